// Writes the files libtorch's C++ frontend makes, for tests/io/archives.py:
//
//   libtorch_archives DIR
//
// DIR/module.pt      torch::save(module): a net with Conv2d, BatchNorm2d, Linear,
//                    a Sequential and a registered buffer
// DIR/sgd.pt         torch::save(optimizer), SGD with momentum after two steps
// DIR/adam.pt        torch::save(optimizer), Adam (amsgrad) after two steps
// DIR/tensors.pt     torch::save(std::vector<torch::Tensor>)
// DIR/pickle.pt      torch::pickle_save of a (tensor, int) tuple
// DIR/sgd_expected.pt, DIR/adam_expected.pt
//                    the optimizers' state as libtorch holds it in memory, in
//                    PyTorch's optimizer state_dict layout, written with
//                    torch::pickle_save (which torch.load reads): what a reader
//                    of sgd.pt and adam.pt must find.
//
// Built only where libtorch is installed (Debian: libtorch-dev); does not link wick.
#include <torch/torch.h>

#include <fstream>
#include <iostream>

namespace {

struct NetImpl : torch::nn::Module {
  NetImpl() {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 6, 5)));
    bn = register_module("bn", torch::nn::BatchNorm2d(6));
    fc = register_module("fc", torch::nn::Linear(6, 4));
    seq = register_module("seq", torch::nn::Sequential(torch::nn::Linear(4, 3), torch::nn::ReLU(),
                                                       torch::nn::Linear(3, 2)));
    counts = register_buffer("counts", torch::arange(5));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return seq->forward(fc->forward(bn->forward(conv1->forward(x)).mean({2, 3})));
  }
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
  torch::nn::Linear fc{nullptr};
  torch::nn::Sequential seq{nullptr};
  torch::Tensor counts;
};
TORCH_MODULE(Net);

void write(const std::string& path, const c10::IValue& v) {
  std::vector<char> bytes = torch::pickle_save(v);
  std::ofstream(path, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

c10::impl::GenericDict dict() {
  return c10::impl::GenericDict(c10::AnyType::get(), c10::AnyType::get());
}

// optimizer.state() keyed by parameter index, each entry's tensors by name.
template <class State, class Fill>
c10::impl::GenericDict states(torch::optim::Optimizer& opt, Fill fill) {
  auto out = dict();
  int64_t index = 0;
  for (auto& group : opt.param_groups())
    for (auto& p : group.params()) {
      auto it = opt.state().find(c10::guts::to_string(p.unsafeGetTensorImpl()));
      if (it != opt.state().end()) {
        auto entry = dict();
        fill(static_cast<State&>(*it->second), entry);
        out.insert(index, entry);
      }
      ++index;
    }
  return out;
}

c10::impl::GenericList param_indices(torch::optim::Optimizer& opt) {
  c10::impl::GenericList out(c10::AnyType::get());
  int64_t n = 0;
  for (auto& p : opt.param_groups().at(0).params()) {
    (void)p;
    out.push_back(n++);
  }
  return out;
}

c10::impl::GenericDict state_dict(c10::impl::GenericDict state, c10::impl::GenericDict group,
                                  torch::optim::Optimizer& opt) {
  group.insert("params", param_indices(opt));
  c10::impl::GenericList groups(c10::AnyType::get());
  groups.push_back(group);
  auto out = dict();
  out.insert("state", state);
  out.insert("param_groups", groups);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: libtorch_archives DIR\n";
    return 2;
  }
  const std::string dir = argv[1];
  torch::manual_seed(0);
  Net net;
  torch::save(net, dir + "/module.pt");

  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  torch::optim::Adam adam(net->parameters(), torch::optim::AdamOptions(1e-3).amsgrad(true));
  for (int i = 0; i < 2; ++i) {
    torch::Tensor loss = net->forward(torch::randn({2, 3, 8, 8})).pow(2).sum();
    sgd.zero_grad();
    adam.zero_grad();
    loss.backward();
    sgd.step();
    adam.step();
  }
  torch::save(sgd, dir + "/sgd.pt");
  torch::save(adam, dir + "/adam.pt");

  const auto& so = static_cast<torch::optim::SGDOptions&>(sgd.param_groups()[0].options());
  auto sgd_group = dict();
  sgd_group.insert("lr", so.lr());
  sgd_group.insert("momentum", so.momentum());
  sgd_group.insert("dampening", so.dampening());
  sgd_group.insert("weight_decay", so.weight_decay());
  sgd_group.insert("nesterov", so.nesterov());
  auto sgd_state = states<torch::optim::SGDParamState>(
      sgd, [](torch::optim::SGDParamState& s, c10::impl::GenericDict& e) {
        e.insert("momentum_buffer", s.momentum_buffer());
      });
  write(dir + "/sgd_expected.pt", state_dict(sgd_state, sgd_group, sgd));

  const auto& ao = static_cast<torch::optim::AdamOptions&>(adam.param_groups()[0].options());
  auto adam_group = dict();
  adam_group.insert("lr", ao.lr());
  adam_group.insert("betas", std::make_tuple(std::get<0>(ao.betas()), std::get<1>(ao.betas())));
  adam_group.insert("eps", ao.eps());
  adam_group.insert("weight_decay", ao.weight_decay());
  adam_group.insert("amsgrad", ao.amsgrad());
  auto adam_state = states<torch::optim::AdamParamState>(
      adam, [](torch::optim::AdamParamState& s, c10::impl::GenericDict& e) {
        e.insert("step", s.step());
        e.insert("exp_avg", s.exp_avg());
        e.insert("exp_avg_sq", s.exp_avg_sq());
        e.insert("max_exp_avg_sq", s.max_exp_avg_sq());
      });
  write(dir + "/adam_expected.pt", state_dict(adam_state, adam_group, adam));

  torch::save(std::vector<torch::Tensor>{torch::arange(6).reshape({2, 3}), torch::ones(4)},
              dir + "/tensors.pt");
  write(dir + "/pickle.pt", c10::IValue(std::make_tuple(torch::eye(3), int64_t(7))));
  return 0;
}
