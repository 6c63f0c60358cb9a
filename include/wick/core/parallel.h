// Threads: one setting bounds every kernel, including BLAS.
#pragma once

namespace wick {

/// Sets the number of threads every kernel may use (at least 1). Defaults to
/// the number of cores, or WICK_NUM_THREADS / OMP_NUM_THREADS when set.
void set_num_threads(int n);

/// The current bound set by set_num_threads.
int get_num_threads();

}  // namespace wick
