// Learning-rate schedulers (torch.optim.lr_scheduler): StepLR, MultiStepLR,
// ExponentialLR, CosineAnnealingLR, LinearLR, OneCycleLR and ReduceLROnPlateau.
//
// A scheduler drives the "lr" of every parameter group of an Optimizer. As in
// PyTorch, constructing one already takes the first step (epoch 0), and step()
// is called after optimizer.step(), once per epoch (or per batch for OneCycleLR):
//
//   optim::SGD opt(net.parameters(), {.lr = 0.1, .momentum = 0.9});
//   optim::StepLR sched(opt, {.step_size = 30, .gamma = 0.1});
//   for (int epoch = 0; epoch < 100; ++epoch) {
//     train(net, opt);            // opt.step() per batch
//     sched.step();
//   }
//   optim::ReduceLROnPlateau plateau(opt, {.mode = "max", .patience = 5});
//   plateau.step(accuracy);       // once per validation
//
// The learning rates follow PyTorch's step() path (the recursive "chainable"
// formulas of get_lr(), not the closed forms), so they agree with PyTorch's to
// the last bits. On construction with last_epoch == -1 every group gets an
// "initial_lr" option, as in PyTorch, which lets a scheduler be rebuilt with
// last_epoch set when resuming.
//
// state_dict() is what PyTorch 2.x's returns: the scheduler's attributes in the
// order PyTorch sets them, with Python's value types, e.g. for StepLR
//   {'step_size': 2, 'gamma': 0.5, 'base_lrs': [0.001], 'last_epoch': 1,
//    '_step_count': 2, '_is_initial': False, '_get_lr_called_within_step': False,
//    '_last_lr': [0.001]}
// load_state_dict() accepts that layout and PyTorch 1.x's (with 'verbose' and
// without '_is_initial'). MultiStepLR's milestones are a collections.Counter
// {milestone: count}, as in PyTorch (Dict::counter()).
//
// Options structs carry PyTorch's keyword arguments and defaults. Arguments
// PyTorch requires (step_size, gamma of ExponentialLR, T_max, max_lr) are
// std::optional here; leaving one out throws the error Python gives for a
// missing argument. MultiStepLR's milestones default to none (no decay). An
// argument PyTorch takes as "a float or a list" (max_lr, min_lr, momenta) is a
// scalar plus a per-group list (max_lrs, min_lrs, ...) that wins when not empty.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wick/core/value.h"
#include "wick/optim/optimizer.h"

namespace wick::optim {

/// The base of the epoch-driven schedulers (PyTorch's LRScheduler).
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// Advances one epoch (or batch) and sets each group's "lr".
  void step();
  /// The learning rates set by the last step, one per group.
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  /// The "initial_lr" of each group when the scheduler was made.
  const std::vector<double>& base_lrs() const { return base_lrs_; }
  /// The index of the last epoch stepped to (0 right after construction).
  int64_t last_epoch() const { return last_epoch_; }
  Optimizer& optimizer() const { return *optimizer_; }

  /// The scheduler's attributes except the optimizer, as PyTorch 2.x's state_dict().
  Value state_dict() const;
  /// Restores what state_dict() returned, from wick or PyTorch 1.x/2.x. Throws
  /// wick::Error naming the key when an entry is missing or of the wrong type,
  /// or when the number of learning rates differs from the number of groups;
  /// nothing is changed then.
  void load_state_dict(const Value& state_dict);

  /// The class name: "StepLR", "OneCycleLR", ...
  virtual std::string name() const = 0;

 protected:
  /// Sets "initial_lr" in each group (last_epoch == -1) or requires it
  /// (resuming). The derived constructor then calls initial_step().
  LRScheduler(Optimizer& optimizer, int64_t last_epoch);
  /// PyTorch's _initial_step(): the first step, taken with _is_initial set.
  void initial_step();
  /// The learning rates for last_epoch (already advanced), from the groups'
  /// current values: PyTorch's chainable get_lr().
  virtual std::vector<double> get_lr() = 0;
  /// Writes the derived class's attributes (those PyTorch sets before the base
  /// constructor runs) into `d`, in PyTorch's order.
  virtual void save_attributes(Dict& d) const = 0;
  /// Reads them back; throws wick::Error before changing anything on a bad entry.
  virtual void load_attributes(const Dict& d) = 0;

  /// group["lr"] of every group.
  std::vector<double> group_lrs() const;
  bool is_initial() const { return is_initial_; }
  int64_t step_count() const { return step_count_; }

 private:
  Optimizer* optimizer_;
  std::vector<double> base_lrs_;
  int64_t last_epoch_;
  int64_t step_count_ = 0;
  bool is_initial_ = false;
  std::vector<double> last_lr_;
};

/// StepLR(optimizer, step_size, gamma=0.1, last_epoch=-1).
struct StepLROptions {
  /// Period of learning rate decay (required).
  std::optional<int64_t> step_size = std::nullopt;
  /// Multiplicative factor of learning rate decay.
  double gamma = 0.1;
  /// The index of the last epoch when resuming; -1 starts afresh.
  int64_t last_epoch = -1;
};

/// Multiplies each group's lr by gamma every step_size epochs.
class StepLR : public LRScheduler {
 public:
  /// Takes the first step; throws wick::Error with PyTorch's message for bad options.
  StepLR(Optimizer& optimizer, StepLROptions options);
  std::string name() const override { return "StepLR"; }
  /// The options in use (after load_state_dict, the loaded ones).
  int64_t step_size() const { return step_size_; }
  double gamma() const { return gamma_; }

 protected:
  std::vector<double> get_lr() override;
  void save_attributes(Dict& d) const override;
  void load_attributes(const Dict& d) override;

 private:
  int64_t step_size_;
  double gamma_;
};

/// MultiStepLR(optimizer, milestones, gamma=0.1, last_epoch=-1).
struct MultiStepLROptions {
  /// Epoch indices at which to decay; a milestone listed k times decays by gamma^k.
  std::vector<int64_t> milestones = {};
  double gamma = 0.1;
  /// The index of the last epoch when resuming; -1 starts afresh.
  int64_t last_epoch = -1;
};

/// Multiplies each group's lr by gamma when the epoch reaches a milestone.
class MultiStepLR : public LRScheduler {
 public:
  /// Takes the first step; throws wick::Error with PyTorch's message for bad options.
  MultiStepLR(Optimizer& optimizer, MultiStepLROptions options);
  std::string name() const override { return "MultiStepLR"; }

 protected:
  std::vector<double> get_lr() override;
  void save_attributes(Dict& d) const override;
  void load_attributes(const Dict& d) override;

 private:
  // milestone -> count, in first-seen order (PyTorch's Counter).
  std::vector<std::pair<int64_t, int64_t>> milestones_;
  double gamma_;
};

/// ExponentialLR(optimizer, gamma, last_epoch=-1).
struct ExponentialLROptions {
  /// Multiplicative factor of learning rate decay (required).
  std::optional<double> gamma = std::nullopt;
  /// The index of the last epoch when resuming; -1 starts afresh.
  int64_t last_epoch = -1;
};

/// Multiplies each group's lr by gamma every epoch.
class ExponentialLR : public LRScheduler {
 public:
  /// Takes the first step; throws wick::Error with PyTorch's message for bad options.
  ExponentialLR(Optimizer& optimizer, ExponentialLROptions options);
  std::string name() const override { return "ExponentialLR"; }

 protected:
  std::vector<double> get_lr() override;
  void save_attributes(Dict& d) const override;
  void load_attributes(const Dict& d) override;

 private:
  double gamma_;
};

/// CosineAnnealingLR(optimizer, T_max, eta_min=0.0, last_epoch=-1).
struct CosineAnnealingLROptions {
  /// Maximum number of iterations: half a cosine period (required).
  std::optional<int64_t> T_max = std::nullopt;
  /// Minimum learning rate.
  double eta_min = 0.0;
  /// The index of the last epoch when resuming; -1 starts afresh.
  int64_t last_epoch = -1;
};

/// Anneals each group's lr from its initial value to eta_min along a cosine
/// over T_max epochs (and back up over the next T_max: no restarts).
class CosineAnnealingLR : public LRScheduler {
 public:
  /// Takes the first step; throws wick::Error with PyTorch's message for bad options.
  CosineAnnealingLR(Optimizer& optimizer, CosineAnnealingLROptions options);
  std::string name() const override { return "CosineAnnealingLR"; }

 protected:
  std::vector<double> get_lr() override;
  void save_attributes(Dict& d) const override;
  void load_attributes(const Dict& d) override;

 private:
  int64_t T_max_;
  double eta_min_;
};

/// LinearLR(optimizer, start_factor=1/3, end_factor=1.0, total_iters=5, last_epoch=-1).
struct LinearLROptions {
  /// Factor applied to the lr in the first epoch, in (0, 1].
  double start_factor = 1.0 / 3;
  /// Factor reached after total_iters epochs, in [0, 1].
  double end_factor = 1.0;
  int64_t total_iters = 5;
  /// The index of the last epoch when resuming; -1 starts afresh.
  int64_t last_epoch = -1;
};

/// Scales each group's lr by a factor moving linearly from start_factor to
/// end_factor over total_iters epochs.
class LinearLR : public LRScheduler {
 public:
  /// Takes the first step; throws wick::Error with PyTorch's message for bad options.
  LinearLR(Optimizer& optimizer, LinearLROptions options = {});
  std::string name() const override { return "LinearLR"; }

 protected:
  std::vector<double> get_lr() override;
  void save_attributes(Dict& d) const override;
  void load_attributes(const Dict& d) override;

 private:
  double start_factor_;
  double end_factor_;
  int64_t total_iters_;
};

/// OneCycleLR(optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
/// pct_start=0.3, anneal_strategy='cos', cycle_momentum=True, base_momentum=0.85,
/// max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1).
struct OneCycleLROptions {
  /// Peak learning rate of every group (required unless max_lrs is given).
  std::optional<double> max_lr = std::nullopt;
  /// Per-group peak learning rates (PyTorch's max_lr given as a list).
  std::vector<double> max_lrs = {};
  /// Steps in the cycle; or give epochs and steps_per_epoch.
  std::optional<int64_t> total_steps = std::nullopt;
  std::optional<int64_t> epochs = std::nullopt;
  std::optional<int64_t> steps_per_epoch = std::nullopt;
  /// Fraction of the cycle spent increasing the lr.
  double pct_start = 0.3;
  /// "cos" or "linear".
  std::string anneal_strategy = "cos";
  /// Cycle "momentum" (or betas[0], for Adam-like optimizers) inversely to the lr.
  bool cycle_momentum = true;
  double base_momentum = 0.85;
  double max_momentum = 0.95;
  /// Per-group values overriding base_momentum / max_momentum when not empty.
  std::vector<double> base_momentums = {};
  std::vector<double> max_momentums = {};
  /// initial_lr = max_lr / div_factor.
  double div_factor = 25.0;
  /// min_lr = initial_lr / final_div_factor.
  double final_div_factor = 1e4;
  /// Anneal back to initial_lr, then down to min_lr (the paper's schedule).
  bool three_phase = false;
  /// The index of the last batch, when resuming.
  /// The index of the last epoch when resuming; -1 starts afresh.
  int64_t last_epoch = -1;
};

/// The 1cycle policy: the lr rises from max_lr/div_factor to max_lr and falls
/// to a much lower minimum, stepped once per batch. Sets "initial_lr",
/// "max_lr", "min_lr" (and "max_momentum", "base_momentum") in each group.
class OneCycleLR : public LRScheduler {
 public:
  /// Takes the first step; throws wick::Error with PyTorch's message for bad options.
  OneCycleLR(Optimizer& optimizer, OneCycleLROptions options);
  std::string name() const override { return "OneCycleLR"; }
  /// total_steps, or epochs * steps_per_epoch.
  int64_t total_steps() const { return total_steps_; }

 protected:
  std::vector<double> get_lr() override;
  void save_attributes(Dict& d) const override;
  void load_attributes(const Dict& d) override;

 private:
  struct Phase {
    Value end_step;  // a float, or an int for the last phase (as PyTorch)
    std::string start_lr, end_lr, start_momentum, end_momentum;
  };
  double anneal(double start, double end, double pct) const;

  int64_t total_steps_;
  std::vector<Phase> phases_;
  std::string anneal_strategy_;
  bool cycle_momentum_;
  bool use_beta1_ = false;
};

/// ReduceLROnPlateau(optimizer, mode='min', factor=0.1, patience=10, threshold=1e-4,
/// threshold_mode='rel', cooldown=0, min_lr=0, eps=1e-8).
struct ReduceLROnPlateauOptions {
  /// "min": reduce when the metric stops decreasing; "max": stops increasing.
  std::string mode = "min";
  /// new_lr = lr * factor; must be < 1.
  double factor = 0.1;
  /// Epochs without improvement tolerated before reducing.
  int64_t patience = 10;
  /// Minimal change that counts as an improvement.
  double threshold = 1e-4;
  /// "rel" (best * (1 -/+ threshold)) or "abs" (best -/+ threshold).
  std::string threshold_mode = "rel";
  /// Epochs to wait after a reduction before counting bad epochs again.
  int64_t cooldown = 0;
  /// Lower bound on every group's lr ...
  double min_lr = 0;
  /// ... or on each group's, when not empty.
  std::vector<double> min_lrs = {};
  /// Reductions smaller than eps are skipped.
  double eps = 1e-8;
};

/// Reduces the lr of every group by `factor` when a metric has stopped
/// improving for `patience` epochs. Not an LRScheduler: step takes the metric.
class ReduceLROnPlateau {
 public:
  /// Throws wick::Error with PyTorch's message for bad options.
  ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions options = {});
  ReduceLROnPlateau(const ReduceLROnPlateau&) = delete;
  ReduceLROnPlateau& operator=(const ReduceLROnPlateau&) = delete;

  /// One epoch with the validation metric `metric`.
  void step(double metric);
  /// Each group's lr after the last step (at construction: the current ones).
  const std::vector<double>& get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  /// The best metric so far (+inf or -inf before the first step).
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }
  int64_t cooldown_counter() const { return cooldown_counter_; }
  bool in_cooldown() const { return cooldown_counter_ > 0; }
  Optimizer& optimizer() const { return *optimizer_; }
  std::string name() const { return "ReduceLROnPlateau"; }

  /// PyTorch 2.x's state_dict(): factor, default_min_lr, min_lrs, patience,
  /// cooldown, eps, last_epoch, _last_lr, mode_worse, mode, threshold,
  /// threshold_mode, best, cooldown_counter, num_bad_epochs.
  Value state_dict() const;
  /// Restores state_dict() from wick or PyTorch 1.x/2.x; checks mode and
  /// threshold_mode as the constructor does. Nothing changes on an error.
  void load_state_dict(const Value& state_dict);

 private:
  bool is_better(double a, double best) const;
  void reduce_lr();

  Optimizer* optimizer_;
  double factor_;
  // default_min_lr: None when per-group min_lrs were given; min_lr keeps
  // PyTorch's type (the default 0 is an int).
  Value default_min_lr_;
  std::vector<Value> min_lrs_;
  int64_t patience_;
  int64_t cooldown_;
  double eps_;
  int64_t last_epoch_ = 0;
  std::vector<double> last_lr_;
  std::string mode_;
  double threshold_;
  std::string threshold_mode_;
  double best_;
  int64_t cooldown_counter_ = 0;
  int64_t num_bad_epochs_ = 0;
};

}  // namespace wick::optim
