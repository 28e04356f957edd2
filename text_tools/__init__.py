"""Text tools shared by the NLU, search and the knowledge base: the packaged sentence encoder with its
ONNX export and runtime, entity extraction, lookup tables and language checks (imports none of them)."""
