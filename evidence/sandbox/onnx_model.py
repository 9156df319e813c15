"""An ONNX model behind the few scikit-learn calls the measurements make (``predict``,
``predict_proba``, ``classes_``, ``feature_names_in_``). Sandbox only: loaded after the scan in
``evidence.sandbox.tasks.onnx_scan`` passed.

Signoff measures ONNX models that take the features as one tensor (what ``skl2onnx.to_onnx``
writes). A classifier's outputs are its labels then its probabilities as a tensor (export with
``zipmap=False``); the class labels come from the graph. The feature names come from the
model's ``features`` metadata (comma-separated), else from the dataset's columns.
"""

import numpy as np

CLASS_LABELS = ("classlabels_ints", "classlabels_int64s", "classlabels_strings")


def _class_labels(graph) -> list | None:
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.name in CLASS_LABELS:
                return [s.decode() for s in attribute.strings] if attribute.strings else list(attribute.ints)
    return None


class OnnxModel:
    def __init__(self, data: bytes):
        """The graph in ``data``: the bytes the scan passed, never the file read again."""
        import onnx
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(
                f"it takes {len(inputs)} inputs; Signoff measures ONNX models whose one input is the features"
            )
        self.input = inputs[0].name
        self.dtype = np.float64 if inputs[0].type == "tensor(double)" else np.float32
        self.outputs = [output.name for output in self.session.get_outputs()]
        features = self.session.get_modelmeta().custom_metadata_map.get("features")
        if features:
            self.feature_names_in_ = np.array(features.split(","))
        labels = _class_labels(onnx.load_from_string(data).graph)
        if labels is not None:
            self.classes_ = np.array(labels)
            if len(self.outputs) > 1:
                self.predict_proba = self._probabilities

    def _run(self, index: int, features):
        return self.session.run([self.outputs[index]], {self.input: np.asarray(features, dtype=self.dtype)})[0]

    def predict(self, features):
        return np.ravel(self._run(0, features))

    def _probabilities(self, features):
        return np.asarray(self._run(1, features))
