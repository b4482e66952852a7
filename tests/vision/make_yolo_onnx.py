#!/usr/bin/python3
"""Writes a tiny ONNX model whose output is a fixed YOLO tensor encoding known boxes.

The graph ignores its image: images [1,3,S,S] -> GlobalAveragePool -> 1x1 Conv with zero
weights and the wanted values as bias -> Reshape to the layout's output shape. So OpenCV DNN
runs a real ONNX graph, and the test knows exactly what the detector must decode.

usage: make_yolo_onnx.py OUT.onnx LAYOUT SIZE CLASSES ANCHORS BOX...
  LAYOUT  yolov5: output [1, ANCHORS, 5+CLASSES]; yolov8: [1, 4+CLASSES, ANCHORS]
  BOX     cx,cy,w,h,class,score[,objectness]  (network-input pixels; v5 objectness default 1)
"""
import sys

import onnx
from onnx import TensorProto, helper


def main(argv):
    out, layout, size, classes, anchors = argv[0], argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    boxes = [[float(v) for v in b.split(",")] for b in argv[5:]]
    if layout == "yolov5":
        rows = [[0.0] * (5 + classes) for _ in range(anchors)]
        for i, b in enumerate(boxes):
            cx, cy, w, h, cls, score = b[:6]
            obj = b[6] if len(b) > 6 else 1.0
            rows[i][0:5] = [cx, cy, w, h, obj]
            rows[i][5 + int(cls)] = score
        values = [v for row in rows for v in row]
        shape = [1, anchors, 5 + classes]
    elif layout == "yolov8":
        cols = [[0.0] * (4 + classes) for _ in range(anchors)]
        for i, b in enumerate(boxes):
            cx, cy, w, h, cls, score = b[:6]
            cols[i][0:4] = [cx, cy, w, h]
            cols[i][4 + int(cls)] = score
        values = [cols[a][c] for c in range(4 + classes) for a in range(anchors)]
        shape = [1, 4 + classes, anchors]
    else:
        raise SystemExit("layout must be yolov5 or yolov8")
    k = len(values)
    weight = helper.make_tensor("w", TensorProto.FLOAT, [k, 3, 1, 1], [0.0] * (3 * k))
    bias = helper.make_tensor("b", TensorProto.FLOAT, [k], values)
    target = helper.make_tensor("shape", TensorProto.INT64, [3], shape)
    nodes = [
        helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
        helper.make_node("Conv", ["pooled", "w", "b"], ["flat"], kernel_shape=[1, 1]),
        helper.make_node("Reshape", ["flat", "shape"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes, "fixed_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, shape)],
        [weight, bias, target])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, out)


if __name__ == "__main__":
    main(sys.argv[1:])
