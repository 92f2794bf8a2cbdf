"""dlib's face-recognition ResNet as ONNX: reader, graph, cache and embedder."""
