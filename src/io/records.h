// Internal: Object records to state_dicts (docs/formats.md §8). A TorchScript
// archive (torch.jit.save, libtorch's torch::save) loads as a tree of
// `__torch__.*` records; a pickled whole model, when asked for, as a tree of
// nn.Module records. These functions walk such trees into the state_dicts
// PyTorch would give, without running anything the file names.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "wick/core/value.h"

namespace wick::io::detail {

/// What a TorchScript archive's code/ declares of one class.
struct ClassDecl {
  bool module = false;  // derives from Module
  std::vector<std::string> parameters;
  std::vector<std::string> buffers;
};

/// Class name (dotted, "__torch__.Net") -> declaration.
using ClassDecls = std::unordered_map<std::string, ClassDecl>;

/// Reads the `class Name(Base):` blocks of one code/ file of module
/// `module_name` ("__torch__.torch.nn.modules.conv") and their
/// `__parameters__` and `__buffers__` lists into `decls`. Only these
/// declarations are read; nothing else of the code is interpreted. Throws
/// wick::FormatError naming `where` for a malformed list.
void parse_class_decls(std::string_view code, const std::string& module_name,
                       const std::string& where, ClassDecls& decls);

/// The state_dict or optimizer state_dict a TorchScript archive's root record
/// stands for: a module's parameters and buffers with dotted names in the
/// order Module.state_dict() gives them, or, for an archive libtorch's
/// torch::save(optimizer) wrote, the optimizer's state_dict as PyTorch lays
/// it out ({"state": {index: {...}}, "param_groups": [{..., "params": [...]}]}).
/// A class without a declaration counts every tensor attribute as state.
Value torchscript_state(const Value& root, const ClassDecls& decls, const std::string& where);

/// `v` with every nn.Module record (an Object with `_parameters`, `_buffers`
/// and `_modules` attributes) replaced by its state_dict, as
/// Module.state_dict() gives it. Other records stay as they are.
Value extract_module_state_dicts(const Value& v);

}  // namespace wick::io::detail
