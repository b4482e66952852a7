// Push-to-talk recording as 16-bit PCM WAV (what the server's speech recogniser reads): the
// microphone through an AudioWorklet (recorder-worklet.js) that hands over raw samples, encoded
// here. No MediaRecorder: browsers record webm/opus there, which the server does not decode.
export class WavRecorder {
  async start() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("this browser cannot record (needs https or localhost)");
    }
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true },
    });
    this.context = new AudioContext();
    this.chunks = [];
    const input = this.context.createMediaStreamSource(this.stream);
    await this.context.audioWorklet.addModule("/recorder-worklet.js");
    this.node = new AudioWorkletNode(this.context, "vigil-recorder");
    this.node.port.onmessage = (m) => this.chunks.push(m.data);
    input.connect(this.node);
  }

  // Stops and returns the recording as a WAV Blob.
  async stop() {
    this.stream.getTracks().forEach((t) => t.stop());
    this.node.disconnect();
    const rate = this.context.sampleRate;
    await this.context.close();
    const length = this.chunks.reduce((n, c) => n + c.length, 0);
    const samples = new Float32Array(length);
    let offset = 0;
    for (const c of this.chunks) {
      samples.set(c, offset);
      offset += c.length;
    }
    return encodeWav(samples, rate);
  }
}

// Mono float samples in [-1, 1] -> a 16-bit PCM RIFF/WAVE Blob.
export function encodeWav(samples, sampleRate) {
  const buffer = new ArrayBuffer(44 + samples.length * 2);
  const v = new DataView(buffer);
  const text = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  text(0, "RIFF");
  v.setUint32(4, 36 + samples.length * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  v.setUint32(16, 16, true);       // fmt chunk size
  v.setUint16(20, 1, true);        // PCM
  v.setUint16(22, 1, true);        // mono
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * 2, true);  // bytes per second
  v.setUint16(32, 2, true);        // block align
  v.setUint16(34, 16, true);       // bits per sample
  text(36, "data");
  v.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    v.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Blob([buffer], { type: "audio/wav" });
}
