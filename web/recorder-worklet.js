// AudioWorklet processor: copies each block of microphone samples (first channel) to the page.
class VigilRecorder extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) this.port.postMessage(new Float32Array(channel));
    return true;
  }
}
registerProcessor("vigil-recorder", VigilRecorder);
