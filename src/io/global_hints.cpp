// Which PyTorch API or library typically writes a global that wick refuses,
// and what to save instead (docs/formats.md §2.7).
#include <string_view>

#include "io/pickle.h"

namespace wick::io::detail {

namespace {

struct Hint {
  /// A module prefix ending in '.', or a full name.
  std::string_view name;
  std::string_view text;
};

constexpr std::string_view kRunsCode =
    "a call that runs code while the file is loaded, which no PyTorch API writes: the file is "
    "malicious or not a checkpoint (wick ran nothing)";

// First match wins, so more specific names come before their modules.
constexpr Hint kHints[] = {
    {"torch._utils._rebuild_qtensor",
     "a quantized tensor (torch.ao.quantization, torch.quantize_per_tensor); save "
     "t.dequantize() instead"},
    {"torch._utils._rebuild_sparse_tensor",
     "a sparse tensor (torch.sparse_coo_tensor, t.to_sparse()); save t.to_dense() instead"},
    {"torch._utils._rebuild_sparse_csr_tensor",
     "a sparse compressed tensor (t.to_sparse_csr()); save t.to_dense() instead"},
    {"torch._utils._rebuild_meta_tensor_no_storage",
     "a tensor on the meta device, which has no data; materialise it (to_empty() and "
     "initialise) before saving"},
    {"torch._utils._rebuild_wrapper_subclass",
     "a wrapper tensor subclass (a DTensor, a FakeTensor or another __torch_dispatch__ "
     "tensor); save plain tensors (DTensor.full_tensor(), t.as_subclass(torch.Tensor))"},
    {"torch._tensor._rebuild_from_type_v2",
     "a tensor of a torch.Tensor subclass, or with Python attributes; save "
     "t.as_subclass(torch.Tensor) instead"},
    {"torch.device", "a torch.device object (a saved `device` variable); save str(device)"},
    {"builtins.complex", "a Python complex number; save a complex tensor or (real, imag)"},
    {"torch.Tensor", "a tensor subclass or a tensor with Python attributes; save plain tensors"},
    {"torch.storage.TypedStorage", "a storage object saved on its own; save a tensor instead"},
    {"torch.QInt8Storage", "a quantized tensor; save t.dequantize() instead"},
    {"torch.QUInt8Storage", "a quantized tensor; save t.dequantize() instead"},
    {"torch.QInt32Storage", "a quantized tensor; save t.dequantize() instead"},
    {"torch.QUInt4x2Storage", "a quantized tensor; save t.dequantize() instead"},
    {"torch.QUInt2x4Storage", "a quantized tensor; save t.dequantize() instead"},
    {"torch.quint8", "a quantized tensor; save t.dequantize() instead"},
    {"torch.qint8", "a quantized tensor; save t.dequantize() instead"},
    {"torch.qint32", "a quantized tensor; save t.dequantize() instead"},
    {"torch.quint4x2", "a quantized tensor; save t.dequantize() instead"},
    {"torch.quint2x4", "a quantized tensor; save t.dequantize() instead"},
    {"torch.optim.lr_scheduler.",
     "an LR scheduler object saved with torch.save(scheduler); save scheduler.state_dict() "
     "instead"},
    {"torch.optim.swa_utils.", "an SWA model or scheduler object; save its state_dict() instead"},
    {"torch.optim.",
     "an optimizer object saved with torch.save(optimizer); save optimizer.state_dict() "
     "instead"},
    {"torch.cuda.amp.grad_scaler.",
     "an AMP GradScaler object saved whole; save scaler.state_dict() instead"},
    {"torch.amp.grad_scaler.",
     "an AMP GradScaler object saved whole; save scaler.state_dict() instead"},
    {"torch.utils.data.",
     "a Dataset, Sampler or DataLoader object; save the state it needs (indices, a "
     "state_dict) instead"},
    {"torch.distributed.",
     "a distributed tensor or object (DTensor, ShardedTensor, a process group); gather it "
     "into plain tensors (full_state_dict, torch.distributed.checkpoint's dcp_to_torch_save) "
     "before saving"},
    {"torch.fx.", "a torch.fx GraphModule or graph saved whole; save its state_dict() instead"},
    {"numpy.",
     "a NumPy array, scalar or dtype (an np.ndarray, or a metric such as np.float64 saved "
     "in a checkpoint); save torch.from_numpy(a), float(x), int(x) or a.tolist() instead"},
    {"argparse.Namespace",
     "the script's parsed command-line arguments (args = parser.parse_args()); save "
     "vars(args) instead"},
    {"omegaconf.",
     "an OmegaConf / Hydra config (as in Lightning's hyper_parameters); save "
     "OmegaConf.to_container(cfg) instead"},
    {"pytorch_lightning.",
     "PyTorch Lightning's checkpointing (hyper-parameters, callback or loop state); its "
     "weights are the checkpoint's 'state_dict' entry: save that on its own"},
    {"lightning.",
     "Lightning's checkpointing (hyper-parameters, callback or loop state); its weights are "
     "the checkpoint's 'state_dict' entry: save that on its own"},
    {"lightning_fabric.",
     "Lightning Fabric's checkpointing; save the model's state_dict() on its own"},
    {"transformers.",
     "Hugging Face transformers (a whole model, a config, or TrainingArguments as in "
     "training_args.bin); save model.state_dict(), or save_pretrained() with safetensors"},
    {"accelerate.", "Hugging Face Accelerate's objects; save model.state_dict() instead"},
    {"sklearn.", "a scikit-learn object; keep it out of the checkpoint (joblib, or its arrays)"},
    {"pathlib.", "a pathlib path; save str(path) instead"},
    {"datetime.", "a datetime object; save its isoformat() or a timestamp instead"},
    {"collections.defaultdict", "a defaultdict; save dict(d) instead"},
    {"collections.namedtuple", "a namedtuple; save a tuple or a dict (t._asdict()) instead"},
    {"os.", kRunsCode},
    {"posix.", kRunsCode},
    {"nt.", kRunsCode},
    {"subprocess.", kRunsCode},
    {"pty.", kRunsCode},
    {"runpy.", kRunsCode},
    {"sys.", kRunsCode},
    {"shutil.", kRunsCode},
    {"socket.", kRunsCode},
    {"webbrowser.", kRunsCode},
    {"importlib.", kRunsCode},
    {"code.", kRunsCode},
    {"ctypes.", kRunsCode},
    {"pickle.", kRunsCode},
    {"_pickle.", kRunsCode},
    {"marshal.", kRunsCode},
    {"builtins.eval", kRunsCode},
    {"builtins.exec", kRunsCode},
    {"builtins.compile", kRunsCode},
    {"builtins.open", kRunsCode},
    {"builtins.getattr", kRunsCode},
    {"builtins.setattr", kRunsCode},
    {"builtins.__import__", kRunsCode},
    {"builtins.breakpoint", kRunsCode},
    {"builtins.input", kRunsCode},
};

}  // namespace

std::string_view writer_hint(std::string_view global) {
  for (const Hint& h : kHints) {
    bool module = h.name.ends_with('.');
    if (module ? global.starts_with(h.name) : global == h.name) return h.text;
  }
  return {};
}

}  // namespace wick::io::detail
