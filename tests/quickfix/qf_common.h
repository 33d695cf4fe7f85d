// Shared by the QuickFIX side of the interop test (tests/quickfix/run.sh):
// the venue's rules (the same as examples/fix/app.rs), field access, and a
// waiter for callbacks that arrive on QuickFIX's own threads.
//
// QuickFIX 1.15's headers use dynamic exception specifications, so this
// builds with -std=c++14.
#pragma once

#include <quickfix/Application.h>
#include <quickfix/FileLog.h>
#include <quickfix/Message.h>
#include <quickfix/MessageStore.h>
#include <quickfix/Session.h>
#include <quickfix/SessionSettings.h>
#include <quickfix/Values.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace qf {

// (ExecType, OrdStatus) pairs the venue answers an order with.
typedef std::vector<std::pair<char, char> > Reports;

// The venue's rules: a reject for OrderQty 0 or over 1 000 000, a side
// other than 1/2 or a non-positive limit price; otherwise New, then (for
// OrderQty >= 2) a partial fill of OrderQty/2, then the fill.
inline Reports expected(long qty, char side, double px) {
  Reports r;
  if (qty <= 0 || qty > 1000000 || (side != '1' && side != '2') || px <= 0) {
    r.push_back(std::make_pair('8', '8'));
  } else {
    r.push_back(std::make_pair('0', '0'));
    if (qty >= 2) r.push_back(std::make_pair('F', '1'));
    r.push_back(std::make_pair('F', '2'));
  }
  return r;
}

// The n-th order of both sides' scripts (examples/fix/app.rs Trader::order).
inline long order_qty(int n) { return n % 10 == 9 ? 0 : 100 + n % 7; }
inline char order_side(int n) { return n % 2 == 0 ? '1' : '2'; }
inline double order_px(int n) { return 100.0 + (n % 50) * 0.25; }

inline std::string field(const FIX::FieldMap& m, int tag) {
  return m.isSetField(tag) ? m.getField(tag) : std::string();
}

inline std::string msg_type(const FIX::Message& m) { return field(m.getHeader(), 35); }

// A mutex and condition variable: callbacks change state under `m` and
// call notify(); the main thread waits for a predicate with a deadline.
struct Waiter {
  std::mutex m;
  std::condition_variable cv;
  template <class F>
  bool wait(F pred, double secs) {
    std::unique_lock<std::mutex> l(m);
    return cv.wait_for(l, std::chrono::duration<double>(secs), pred);
  }
  void notify() { cv.notify_all(); }
};

inline bool check(bool ok, const char* who, const std::string& what) {
  std::fprintf(stderr, "%s: %s: %s\n", who, ok ? "ok" : "FAIL", what.c_str());
  return ok;
}

}  // namespace qf
