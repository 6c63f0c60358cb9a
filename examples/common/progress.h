// Shared by the training examples: one epoch's progress on stderr, as a bar
// redrawn in place on a terminal (loss, images/s, ETA) or as a line per tenth
// of the epoch when stderr is a file or a pipe.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace examples {

using Clock = std::chrono::steady_clock;

/// "1:05" or "42s".
inline std::string format_seconds(double s) {
  char buf[32];
  int64_t t = int64_t(std::lround(s));
  if (t >= 60)
    std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)(t / 60), (long long)(t % 60));
  else
    std::snprintf(buf, sizeof buf, "%llds", (long long)t);
  return buf;
}

/// One epoch's progress on stderr: a bar redrawn in place on a terminal, a line
/// per tenth of the epoch otherwise (logs and pipes would fill up with bars).
/// update(images so far, mean loss so far, whether the epoch is done).
class Progress {
 public:
  Progress(int64_t epoch, int64_t epochs, int64_t total_images)
      : epoch_(epoch), epochs_(epochs), total_(total_images), tty_(isatty(STDERR_FILENO)) {}

  void update(int64_t images, double mean_loss, bool done) {
    auto now = Clock::now();
    double elapsed = std::chrono::duration<double>(now - start_).count();
    if (tty_) {
      if (!done && now - last_ < std::chrono::milliseconds(100)) return;
    } else {
      int64_t tenth = images * 10 / std::max<int64_t>(total_, 1);
      if (!done && tenth <= printed_tenth_) return;
      printed_tenth_ = tenth;
    }
    last_ = now;
    double rate = elapsed > 0 ? double(images) / elapsed : 0;
    double eta = rate > 0 ? double(total_ - images) / rate : 0;
    int percent = int(images * 100 / std::max<int64_t>(total_, 1));
    char text[160];
    std::snprintf(text, sizeof text, "%lld/%lld loss %.4f  %.0f img/s  %s %s", (long long)images,
                  (long long)total_, mean_loss, rate, done ? "took" : "ETA",
                  format_seconds(done ? elapsed : eta).c_str());
    if (tty_) {
      constexpr int width = 30;
      int filled = int(images * width / std::max<int64_t>(total_, 1));
      std::string bar(size_t(filled), '#');
      bar.resize(width, '.');
      std::fprintf(stderr, "\r\033[Kepoch %lld/%lld [%s] %3d%% %s%s", (long long)epoch_ + 1,
                   (long long)epochs_, bar.c_str(), percent, text, done ? "\n" : "");
    } else {
      std::fprintf(stderr, "epoch %lld/%lld %3d%% %s\n", (long long)epoch_ + 1, (long long)epochs_,
                   percent, text);
    }
    std::fflush(stderr);
  }

 private:
  int64_t epoch_, epochs_, total_;
  bool tty_;
  int64_t printed_tenth_ = 0;
  Clock::time_point start_ = Clock::now(), last_ = {};
};

}  // namespace examples
