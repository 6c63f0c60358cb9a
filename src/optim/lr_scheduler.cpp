#include "wick/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <utility>

#include "wick/core/error.h"

namespace wick::optim {

namespace {

constexpr double kPi = std::numbers::pi;  // == Python's math.pi

std::string repr(double v) {
  return Value(v).repr();
}

// Typed reads of a loaded state_dict entry, naming the scheduler and key.
const Value& entry(const Dict& d, const std::string& who, const char* key) {
  const Value* v = d.find(key);
  WICK_CHECK(v != nullptr, who, ".load_state_dict: missing key '", key, "'");
  return *v;
}

int64_t int_entry(const Dict& d, const std::string& who, const char* key) {
  const Value& v = entry(d, who, key);
  WICK_CHECK(v.is_int(), who, ".load_state_dict: '", key, "' must be an int, got ", v.type_name());
  return v.as_int();
}

// Python code stores 0 where it means 0.0, so an int is a valid float here.
double float_entry(const Dict& d, const std::string& who, const char* key) {
  const Value& v = entry(d, who, key);
  WICK_CHECK(v.is_float() || v.is_int(), who, ".load_state_dict: '", key, "' must be a float, got ",
             v.type_name());
  return v.to_double();
}

bool bool_entry(const Dict& d, const std::string& who, const char* key) {
  const Value& v = entry(d, who, key);
  WICK_CHECK(v.is_bool(), who, ".load_state_dict: '", key, "' must be a bool, got ", v.type_name());
  return v.as_bool();
}

std::string string_entry(const Dict& d, const std::string& who, const char* key) {
  const Value& v = entry(d, who, key);
  WICK_CHECK(v.is_string(), who, ".load_state_dict: '", key, "' must be a str, got ",
             v.type_name());
  return v.as_string();
}

std::vector<double> floats_entry(const Dict& d, const std::string& who, const char* key,
                                 size_t expected) {
  const Value& v = entry(d, who, key);
  WICK_CHECK(v.is_list() || v.is_tuple(), who, ".load_state_dict: '", key, "' must be a list, got ",
             v.type_name());
  std::vector<double> out;
  for (const Value& x : v.as_sequence()) {
    WICK_CHECK(x.is_float() || x.is_int(), who, ".load_state_dict: '", key,
               "' must hold floats, got ", x.type_name());
    out.push_back(x.to_double());
  }
  WICK_CHECK(out.size() == expected, who, ".load_state_dict: '", key, "' has ", out.size(),
             " values but the optimizer has ", expected, " param groups");
  return out;
}

Value float_list(const std::vector<double>& xs) {
  List items(xs.begin(), xs.end());
  return Value::list(std::move(items));
}

const Dict& as_state_dict(const Value& v, const std::string& who) {
  WICK_CHECK(v.is_dict(), who, ".load_state_dict: expected a dict, got ", v.type_name());
  return v.as_dict();
}

// Python's `missing 1 required positional argument` TypeError.
[[noreturn]] void missing(const std::string& who, const char* arg) {
  throw Error(
      detail::concat(who, ".__init__() missing 1 required positional argument: '", arg, "'"));
}

}  // namespace

// ---- LRScheduler ------------------------------------------------------------

LRScheduler::LRScheduler(Optimizer& optimizer, int64_t last_epoch)
    : optimizer_(&optimizer), last_epoch_(last_epoch) {
  auto& groups = optimizer.param_groups();
  if (last_epoch == -1) {
    for (ParamGroup& g : groups)
      if (!g.options.contains("initial_lr")) g.options.set("initial_lr", g["lr"]);
  } else {
    for (size_t i = 0; i < groups.size(); ++i)
      WICK_CHECK(groups[i].options.contains("initial_lr"),
                 "param 'initial_lr' is not specified in param_groups[", i,
                 "] when resuming an optimizer");
  }
  for (const ParamGroup& g : groups) base_lrs_.push_back(g["initial_lr"].to_double());
}

void LRScheduler::initial_step() {
  step_count_ = 0;
  is_initial_ = true;
  try {
    step();
  } catch (...) {
    is_initial_ = false;
    throw;
  }
  is_initial_ = false;
}

std::vector<double> LRScheduler::group_lrs() const {
  std::vector<double> lrs;
  for (const ParamGroup& g : optimizer_->param_groups()) lrs.push_back(g.lr());
  return lrs;
}

void LRScheduler::step() {
  auto& groups = optimizer_->param_groups();
  WICK_CHECK(groups.size() == base_lrs_.size(), name(), ".step: the optimizer has ", groups.size(),
             " param groups but the scheduler was made for ", base_lrs_.size());
  // PyTorch advances the counters before get_lr() and leaves them advanced if
  // it throws (OneCycleLR past its end); we undo them so a failed step is no step.
  ++step_count_;
  ++last_epoch_;
  std::vector<double> values;
  try {
    values = get_lr();
  } catch (...) {
    --step_count_;
    --last_epoch_;
    throw;
  }
  for (size_t i = 0; i < groups.size(); ++i) groups[i].options.set("lr", values[i]);
  last_lr_ = group_lrs();
}

Value LRScheduler::state_dict() const {
  Dict d;
  save_attributes(d);
  d.set("base_lrs", float_list(base_lrs_));
  d.set("last_epoch", last_epoch_);
  d.set("_step_count", step_count_);
  d.set("_is_initial", is_initial_);
  // Always False outside step(), which is the only time state_dict() can't run.
  d.set("_get_lr_called_within_step", false);
  d.set("_last_lr", float_list(last_lr_));
  return Value(d);
}

void LRScheduler::load_state_dict(const Value& state_dict) {
  const std::string who = name();
  const Dict& d = as_state_dict(state_dict, who);
  const size_t n = optimizer_->param_groups().size();
  std::vector<double> base_lrs = floats_entry(d, who, "base_lrs", n);
  int64_t last_epoch = int_entry(d, who, "last_epoch");
  int64_t step_count = int_entry(d, who, "_step_count");
  // PyTorch 1.x has no _is_initial (and a 'verbose' flag wick has no use for).
  bool is_initial = d.contains("_is_initial") ? bool_entry(d, who, "_is_initial") : false;
  std::vector<double> last_lr = floats_entry(d, who, "_last_lr", n);
  load_attributes(d);  // commits the derived part only if all of it is valid
  base_lrs_ = std::move(base_lrs);
  last_epoch_ = last_epoch;
  step_count_ = step_count;
  is_initial_ = is_initial;
  last_lr_ = std::move(last_lr);
}

// ---- StepLR -----------------------------------------------------------------

StepLR::StepLR(Optimizer& optimizer, StepLROptions options)
    : LRScheduler(optimizer, options.last_epoch) {
  if (!options.step_size) missing("StepLR", "step_size");
  // PyTorch fails later, in the first step, with "integer modulo by zero".
  WICK_CHECK(*options.step_size != 0, "StepLR: step_size must not be 0");
  step_size_ = *options.step_size;
  gamma_ = options.gamma;
  initial_step();
}

std::vector<double> StepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch() == 0 || last_epoch() % step_size_ != 0) return lrs;
  for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

void StepLR::save_attributes(Dict& d) const {
  d.set("step_size", step_size_);
  d.set("gamma", gamma_);
}

void StepLR::load_attributes(const Dict& d) {
  int64_t step_size = int_entry(d, name(), "step_size");
  double gamma = float_entry(d, name(), "gamma");
  WICK_CHECK(step_size != 0, "StepLR.load_state_dict: step_size must not be 0");
  step_size_ = step_size;
  gamma_ = gamma;
}

// ---- MultiStepLR ------------------------------------------------------------

MultiStepLR::MultiStepLR(Optimizer& optimizer, MultiStepLROptions options)
    : LRScheduler(optimizer, options.last_epoch), gamma_(options.gamma) {
  for (int64_t m : options.milestones) {
    auto it = std::find_if(milestones_.begin(), milestones_.end(),
                           [m](const auto& p) { return p.first == m; });
    if (it == milestones_.end())
      milestones_.emplace_back(m, 1);
    else
      ++it->second;
  }
  initial_step();
}

std::vector<double> MultiStepLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  auto it = std::find_if(milestones_.begin(), milestones_.end(),
                         [e = last_epoch()](const auto& p) { return p.first == e; });
  if (it == milestones_.end()) return lrs;
  // Python's float ** int is pow() on doubles.
  double factor = std::pow(gamma_, double(it->second));
  for (double& lr : lrs) lr *= factor;
  return lrs;
}

void MultiStepLR::save_attributes(Dict& d) const {
  Dict counter;  // a collections.Counter, as PyTorch keeps milestones
  counter.set_counter(true);
  for (const auto& [m, count] : milestones_) counter.set(m, count);
  d.set("milestones", Value(counter));
  d.set("gamma", gamma_);
}

void MultiStepLR::load_attributes(const Dict& d) {
  const Value& v = entry(d, name(), "milestones");
  WICK_CHECK(v.is_dict(), "MultiStepLR.load_state_dict: 'milestones' must be a dict, got ",
             v.type_name());
  std::vector<std::pair<int64_t, int64_t>> milestones;
  for (const auto& [k, count] : v.as_dict()) {
    WICK_CHECK(k.is_int() && count.is_int(),
               "MultiStepLR.load_state_dict: 'milestones' must map int to int, got ", k.type_name(),
               " -> ", count.type_name());
    milestones.emplace_back(k.as_int(), count.as_int());
  }
  double gamma = float_entry(d, name(), "gamma");
  milestones_ = std::move(milestones);
  gamma_ = gamma;
}

// ---- ExponentialLR ----------------------------------------------------------

ExponentialLR::ExponentialLR(Optimizer& optimizer, ExponentialLROptions options)
    : LRScheduler(optimizer, options.last_epoch) {
  if (!options.gamma) missing("ExponentialLR", "gamma");
  gamma_ = *options.gamma;
  initial_step();
}

std::vector<double> ExponentialLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  // PyTorch 2.x: the initial step of a resumed scheduler must not decay again.
  if (is_initial()) return lrs;
  for (double& lr : lrs) lr *= gamma_;
  return lrs;
}

void ExponentialLR::save_attributes(Dict& d) const {
  d.set("gamma", gamma_);
}

void ExponentialLR::load_attributes(const Dict& d) {
  gamma_ = float_entry(d, name(), "gamma");
}

// ---- CosineAnnealingLR ------------------------------------------------------

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, CosineAnnealingLROptions options)
    : LRScheduler(optimizer, options.last_epoch) {
  if (!options.T_max) missing("CosineAnnealingLR", "T_max");
  // PyTorch fails later, in the first step, with "integer modulo by zero".
  WICK_CHECK(*options.T_max != 0, "CosineAnnealingLR: T_max must not be 0");
  T_max_ = *options.T_max;
  eta_min_ = options.eta_min;
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  const double e = double(last_epoch()), T = double(T_max_);
  const std::vector<double>& base = base_lrs();
  if (is_initial()) return lrs;
  if (step_count() == 1 && last_epoch() > 0) {
    for (size_t i = 0; i < lrs.size(); ++i)
      lrs[i] = eta_min_ + (base[i] - eta_min_) * (1 + std::cos(e * kPi / T)) / 2;
  } else if ((last_epoch() - 1 - T_max_) % (2 * T_max_) == 0) {
    for (size_t i = 0; i < lrs.size(); ++i)
      lrs[i] = lrs[i] + (base[i] - eta_min_) * (1 - std::cos(kPi / T)) / 2;
  } else {
    for (double& lr : lrs)
      lr = (1 + std::cos(kPi * e / T)) / (1 + std::cos(kPi * (e - 1) / T)) * (lr - eta_min_) +
           eta_min_;
  }
  return lrs;
}

void CosineAnnealingLR::save_attributes(Dict& d) const {
  d.set("T_max", T_max_);
  d.set("eta_min", eta_min_);
}

void CosineAnnealingLR::load_attributes(const Dict& d) {
  int64_t T_max = int_entry(d, name(), "T_max");
  double eta_min = float_entry(d, name(), "eta_min");
  WICK_CHECK(T_max != 0, "CosineAnnealingLR.load_state_dict: T_max must not be 0");
  T_max_ = T_max;
  eta_min_ = eta_min;
}

// ---- LinearLR ---------------------------------------------------------------

namespace {
void check_linear_factors(double start_factor, double end_factor) {
  WICK_CHECK(!(start_factor > 1.0 || start_factor <= 0),
             "Starting multiplicative factor expected to be greater than 0 and less or equal "
             "to 1.");
  WICK_CHECK(!(end_factor > 1.0 || end_factor < 0),
             "Ending multiplicative factor expected to be between 0 and 1.");
}
}  // namespace

LinearLR::LinearLR(Optimizer& optimizer, LinearLROptions options)
    : LRScheduler(optimizer, options.last_epoch) {
  check_linear_factors(options.start_factor, options.end_factor);
  start_factor_ = options.start_factor;
  end_factor_ = options.end_factor;
  total_iters_ = options.total_iters;
  initial_step();
}

std::vector<double> LinearLR::get_lr() {
  std::vector<double> lrs = group_lrs();
  if (last_epoch() == 0) {
    for (double& lr : lrs) lr *= start_factor_;
    return lrs;
  }
  if (is_initial() || last_epoch() > total_iters_) return lrs;
  const double delta = end_factor_ - start_factor_;
  for (double& lr : lrs)
    lr *= 1.0 + delta / (double(total_iters_) * start_factor_ + double(last_epoch() - 1) * delta);
  return lrs;
}

void LinearLR::save_attributes(Dict& d) const {
  d.set("start_factor", start_factor_);
  d.set("end_factor", end_factor_);
  d.set("total_iters", total_iters_);
}

void LinearLR::load_attributes(const Dict& d) {
  double start_factor = float_entry(d, name(), "start_factor");
  double end_factor = float_entry(d, name(), "end_factor");
  int64_t total_iters = int_entry(d, name(), "total_iters");
  check_linear_factors(start_factor, end_factor);
  start_factor_ = start_factor;
  end_factor_ = end_factor;
  total_iters_ = total_iters;
}

// ---- OneCycleLR -------------------------------------------------------------

namespace {
// PyTorch's _format_param: one value per group, from a scalar or a list.
std::vector<double> per_group(const char* name, size_t groups, std::optional<double> scalar,
                              const std::vector<double>& list) {
  if (list.empty()) return std::vector<double>(groups, scalar.value_or(0.0));
  WICK_CHECK(list.size() == groups, name, " must have the same length as optimizer.param_groups. ",
             name, " has ", list.size(), " values, param_groups has ", groups, ".");
  return list;
}

// Checks the options and writes the group options (initial_lr, max_lr, ...)
// before the base constructor reads initial_lr, in PyTorch's order.
Optimizer& one_cycle_setup(Optimizer& optimizer, const OneCycleLROptions& o) {
  if (o.total_steps) {
    WICK_CHECK(*o.total_steps > 0, "Expected positive integer total_steps, but got ",
               *o.total_steps);
  } else if (o.epochs && o.steps_per_epoch) {
    WICK_CHECK(*o.epochs > 0, "Expected positive integer epochs, but got ", *o.epochs);
    WICK_CHECK(*o.steps_per_epoch > 0, "Expected positive integer steps_per_epoch, but got ",
               *o.steps_per_epoch);
  } else {
    throw Error("You must define either total_steps OR (epochs AND steps_per_epoch)");
  }
  WICK_CHECK(o.pct_start >= 0 && o.pct_start <= 1,
             "Expected float between 0 and 1 pct_start, but got ", repr(o.pct_start));
  WICK_CHECK(o.anneal_strategy == "cos" || o.anneal_strategy == "linear",
             "anneal_strategy must be one of 'cos' or 'linear', instead got ", o.anneal_strategy);
  if (!o.max_lr && o.max_lrs.empty()) missing("OneCycleLR", "max_lr");
  auto& groups = optimizer.param_groups();
  const size_t n = groups.size();
  std::vector<double> max_lrs = per_group("max_lr", n, o.max_lr, o.max_lrs);
  std::vector<double> max_m, base_m;
  bool use_beta1 = false;
  if (o.cycle_momentum) {
    const Dict& defaults = optimizer.defaults();
    WICK_CHECK(defaults.contains("momentum") || defaults.contains("betas"),
               "optimizer must support momentum or beta1 with `cycle_momentum` option enabled");
    use_beta1 = defaults.contains("betas");
    max_m = per_group("max_momentum", n, o.max_momentum, o.max_momentums);
    base_m = per_group("base_momentum", n, o.base_momentum, o.base_momentums);
  }
  if (o.last_epoch != -1) return optimizer;
  for (size_t i = 0; i < n; ++i) {
    double initial_lr = max_lrs[i] / o.div_factor;
    groups[i].options.set("initial_lr", initial_lr);
    groups[i].options.set("max_lr", max_lrs[i]);
    groups[i].options.set("min_lr", initial_lr / o.final_div_factor);
  }
  for (size_t i = 0; o.cycle_momentum && i < n; ++i) {
    if (use_beta1) {
      List betas = groups[i]["betas"].as_sequence();
      betas.at(0) = max_m[i];
      groups[i].options.set("betas", Value::tuple(std::move(betas)));
    } else {
      groups[i].options.set("momentum", max_m[i]);
    }
    groups[i].options.set("max_momentum", max_m[i]);
    groups[i].options.set("base_momentum", base_m[i]);
  }
  return optimizer;
}
}  // namespace

OneCycleLR::OneCycleLR(Optimizer& optimizer, OneCycleLROptions o)
    : LRScheduler(one_cycle_setup(optimizer, o), o.last_epoch),
      anneal_strategy_(o.anneal_strategy),
      cycle_momentum_(o.cycle_momentum) {
  total_steps_ = o.total_steps ? *o.total_steps : *o.epochs * *o.steps_per_epoch;
  use_beta1_ = o.cycle_momentum && optimizer.defaults().contains("betas");
  const double T = double(total_steps_);
  Value first_end(o.pct_start * T - 1);
  Value last_end(total_steps_ - 1);
  if (o.three_phase) {
    phases_ = {
        {first_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
        {Value(2 * o.pct_start * T - 2), "max_lr", "initial_lr", "base_momentum", "max_momentum"},
        {last_end, "initial_lr", "min_lr", "max_momentum", "max_momentum"}};
  } else {
    phases_ = {{first_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"},
               {last_end, "max_lr", "min_lr", "base_momentum", "max_momentum"}};
  }
  initial_step();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (anneal_strategy_ == "cos") {
    double cos_out = std::cos(kPi * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
  }
  return (end - start) * pct + start;
}

std::vector<double> OneCycleLR::get_lr() {
  const int64_t step_num = last_epoch();
  WICK_CHECK(step_num <= total_steps_, "Tried to step ", step_num,
             " times. The specified number of total steps is ", total_steps_);
  std::vector<double> lrs;
  for (ParamGroup& group : optimizer().param_groups()) {
    double start_step = 0.0, lr = 0.0, momentum = 0.0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const Phase& phase = phases_[i];
      const double end_step = phase.end_step.to_double();
      if (double(step_num) <= end_step || i == phases_.size() - 1) {
        WICK_CHECK(end_step != start_step, "OneCycleLR: float division by zero (phase ", i,
                   " has no steps)");
        double pct = (double(step_num) - start_step) / (end_step - start_step);
        lr = anneal(group[phase.start_lr].to_double(), group[phase.end_lr].to_double(), pct);
        if (cycle_momentum_)
          momentum = anneal(group[phase.start_momentum].to_double(),
                            group[phase.end_momentum].to_double(), pct);
        break;
      }
      start_step = end_step;
    }
    lrs.push_back(lr);
    if (cycle_momentum_) {
      if (use_beta1_) {
        List betas = group["betas"].as_sequence();
        betas.at(0) = momentum;
        group.options.set("betas", Value::tuple(std::move(betas)));
      } else {
        group.options.set("momentum", momentum);
      }
    }
  }
  return lrs;
}

void OneCycleLR::save_attributes(Dict& d) const {
  d.set("total_steps", total_steps_);
  List phases;
  for (const Phase& p : phases_) {
    Dict pd;
    pd.set("end_step", p.end_step);
    pd.set("start_lr", p.start_lr);
    pd.set("end_lr", p.end_lr);
    pd.set("start_momentum", p.start_momentum);
    pd.set("end_momentum", p.end_momentum);
    phases.push_back(Value(pd));
  }
  d.set("_schedule_phases", Value::list(std::move(phases)));
  d.set("_anneal_func_type", anneal_strategy_);
  d.set("cycle_momentum", cycle_momentum_);
  if (cycle_momentum_) d.set("use_beta1", use_beta1_);
}

void OneCycleLR::load_attributes(const Dict& d) {
  const std::string who = name();
  int64_t total_steps = int_entry(d, who, "total_steps");
  const Value& pv = entry(d, who, "_schedule_phases");
  WICK_CHECK(pv.is_list() && pv.size() > 0,
             "OneCycleLR.load_state_dict: '_schedule_phases' must be a non-empty list, got ",
             pv.type_name());
  std::vector<Phase> phases;
  for (const Value& item : pv.as_list()) {
    WICK_CHECK(item.is_dict(), "OneCycleLR.load_state_dict: a schedule phase must be a dict, got ",
               item.type_name());
    const Dict& p = item.as_dict();
    float_entry(p, who, "end_step");  // type check
    phases.push_back({entry(p, who, "end_step"), string_entry(p, who, "start_lr"),
                      string_entry(p, who, "end_lr"), string_entry(p, who, "start_momentum"),
                      string_entry(p, who, "end_momentum")});
  }
  // PyTorch 1.x pickles a bound method (anneal_func) instead of the name; a
  // file that could be loaded here has neither, so the current strategy stays.
  std::string strategy = d.contains("_anneal_func_type") ? string_entry(d, who, "_anneal_func_type")
                                                         : anneal_strategy_;
  WICK_CHECK(strategy == "cos" || strategy == "linear", "Unknown _anneal_func_type: ", strategy);
  bool cycle_momentum = bool_entry(d, who, "cycle_momentum");
  bool use_beta1 = cycle_momentum ? bool_entry(d, who, "use_beta1") : false;
  total_steps_ = total_steps;
  phases_ = std::move(phases);
  anneal_strategy_ = std::move(strategy);
  cycle_momentum_ = cycle_momentum;
  use_beta1_ = use_beta1;
}

// ---- ReduceLROnPlateau ------------------------------------------------------

namespace {
void check_plateau_modes(const std::string& mode, const std::string& threshold_mode) {
  WICK_CHECK(mode == "min" || mode == "max", "mode ", mode, " is unknown!");
  WICK_CHECK(threshold_mode == "rel" || threshold_mode == "abs", "threshold mode ", threshold_mode,
             " is unknown!");
}
double worse(const std::string& mode) {
  return mode == "min" ? std::numeric_limits<double>::infinity()
                       : -std::numeric_limits<double>::infinity();
}
}  // namespace

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, ReduceLROnPlateauOptions o)
    : optimizer_(&optimizer) {
  WICK_CHECK(o.factor < 1.0, "Factor should be < 1.0.");
  factor_ = o.factor;
  const size_t n = optimizer.param_groups().size();
  if (!o.min_lrs.empty()) {
    WICK_CHECK(o.min_lrs.size() == n, "expected ", n, " min_lrs, got ", o.min_lrs.size());
    for (double m : o.min_lrs) min_lrs_.push_back(number(m, /*int_default=*/true));
  } else {
    default_min_lr_ = number(o.min_lr, /*int_default=*/true);
    min_lrs_.assign(n, default_min_lr_);
  }
  patience_ = o.patience;
  cooldown_ = o.cooldown;
  eps_ = o.eps;
  for (const ParamGroup& g : optimizer.param_groups()) last_lr_.push_back(g.lr());
  check_plateau_modes(o.mode, o.threshold_mode);
  mode_ = o.mode;
  threshold_ = o.threshold;
  threshold_mode_ = o.threshold_mode;
  best_ = worse(mode_);
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  if (mode_ == "min" && threshold_mode_ == "rel") return a < best * (1.0 - threshold_);
  if (mode_ == "min") return a < best - threshold_;
  if (threshold_mode_ == "rel") return a > best * (threshold_ + 1.0);
  return a > best + threshold_;
}

void ReduceLROnPlateau::step(double metric) {
  last_epoch_ += 1;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (in_cooldown()) {
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;  // bad epochs in cooldown don't count
  }
  if (num_bad_epochs_ > patience_) {
    reduce_lr();
    cooldown_counter_ = cooldown_;
    num_bad_epochs_ = 0;
  }
  last_lr_.clear();
  for (const ParamGroup& g : optimizer_->param_groups()) last_lr_.push_back(g.lr());
}

void ReduceLROnPlateau::reduce_lr() {
  auto& groups = optimizer_->param_groups();
  if (groups.size() != min_lrs_.size()) {
    WICK_CHECK(!default_min_lr_.is_none(), "The number of param groups in the `optimizer` (",
               groups.size(), ") differs from when `ReduceLROnPlateau` was initialized (",
               min_lrs_.size(),
               "), usually due to a new param group being added to the optimizer. Please modify "
               "the `min_lrs` field to match the length of the `optimizer` param groups.");
    min_lrs_.assign(groups.size(), default_min_lr_);
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    double old_lr = groups[i].lr();
    double new_lr = std::max(old_lr * factor_, min_lrs_[i].to_double());
    if (old_lr - new_lr > eps_) groups[i].options.set("lr", new_lr);
  }
}

Value ReduceLROnPlateau::state_dict() const {
  Dict d;
  d.set("factor", factor_);
  d.set("default_min_lr", default_min_lr_);
  d.set("min_lrs", Value::list(min_lrs_));
  d.set("patience", patience_);
  d.set("cooldown", cooldown_);
  d.set("eps", eps_);
  d.set("last_epoch", last_epoch_);
  d.set("_last_lr", float_list(last_lr_));
  d.set("mode_worse", worse(mode_));
  d.set("mode", mode_);
  d.set("threshold", threshold_);
  d.set("threshold_mode", threshold_mode_);
  d.set("best", best_);
  d.set("cooldown_counter", cooldown_counter_);
  d.set("num_bad_epochs", num_bad_epochs_);
  return Value(d);
}

void ReduceLROnPlateau::load_state_dict(const Value& state_dict) {
  const std::string who = name();
  const Dict& d = as_state_dict(state_dict, who);
  const size_t n = optimizer_->param_groups().size();
  double factor = float_entry(d, who, "factor");
  // PyTorch 1.x has no default_min_lr: its min_lrs always match the groups.
  Value default_min_lr;
  if (const Value* v = d.find("default_min_lr")) {
    WICK_CHECK(v->is_none() || v->is_int() || v->is_float(), who,
               ".load_state_dict: 'default_min_lr' must be a number or None, got ", v->type_name());
    default_min_lr = *v;
  }
  const Value& mv = entry(d, who, "min_lrs");
  WICK_CHECK(mv.is_list() || mv.is_tuple(), who, ".load_state_dict: 'min_lrs' must be a list, got ",
             mv.type_name());
  std::vector<Value> min_lrs;
  for (const Value& m : mv.as_sequence()) {
    WICK_CHECK(m.is_int() || m.is_float(), who,
               ".load_state_dict: 'min_lrs' must hold numbers, got ", m.type_name());
    min_lrs.push_back(m);
  }
  int64_t patience = int_entry(d, who, "patience");
  int64_t cooldown = int_entry(d, who, "cooldown");
  double eps = float_entry(d, who, "eps");
  int64_t last_epoch = int_entry(d, who, "last_epoch");
  // PyTorch 1.x sets _last_lr only in step().
  std::vector<double> last_lr =
      d.contains("_last_lr") ? floats_entry(d, who, "_last_lr", n) : last_lr_;
  std::string mode = string_entry(d, who, "mode");
  double threshold = float_entry(d, who, "threshold");
  std::string threshold_mode = string_entry(d, who, "threshold_mode");
  const Value& bv = entry(d, who, "best");
  WICK_CHECK(bv.is_int() || bv.is_float(), who, ".load_state_dict: 'best' must be a number, got ",
             bv.type_name());
  int64_t cooldown_counter = int_entry(d, who, "cooldown_counter");
  int64_t num_bad_epochs = int_entry(d, who, "num_bad_epochs");
  check_plateau_modes(mode, threshold_mode);

  factor_ = factor;
  default_min_lr_ = default_min_lr;
  min_lrs_ = std::move(min_lrs);
  patience_ = patience;
  cooldown_ = cooldown;
  eps_ = eps;
  last_epoch_ = last_epoch;
  last_lr_ = std::move(last_lr);
  mode_ = std::move(mode);
  threshold_ = threshold;
  threshold_mode_ = std::move(threshold_mode);
  best_ = bv.to_double();
  cooldown_counter_ = cooldown_counter;
  num_bad_epochs_ = num_bad_epochs;
}

}  // namespace wick::optim
