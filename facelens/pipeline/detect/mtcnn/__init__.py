"""MTCNN on ONNX Runtime, without torch: the weights (fetched from facenet-pytorch's wheel and
read by a restricted unpickler), the three networks as ONNX graphs, the cascade and the
detector. ``python -m facelens.pipeline.detect.mtcnn`` fetches and builds them ahead of use."""
