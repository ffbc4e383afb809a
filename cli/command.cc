#include "cli/command.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace fedrad::cli {

std::map<std::string, Command>& Registry() {
  static auto* registry = new std::map<std::string, Command>();
  return *registry;
}

Registrar::Registrar(const char* name, const char* summary, CommandFn fn) {
  Registry()[name] = Command{name, summary, std::move(fn)};
}

Args::Args(std::string command, std::vector<std::string> argv) : command_(std::move(command)) {
  bool only_positionals = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (only_positionals || !absl::StartsWith(a, "--") || a == "-") {
      if (a == "-h" && !only_positionals) {
        help_ = true;
        continue;
      }
      positionals_.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positionals = true;
      continue;
    }
    std::string body = a.substr(2);
    if (body == "help") {
      help_ = true;
      continue;
    }
    auto eq = body.find('=');
    if (eq != std::string::npos) {
      values_.emplace(body.substr(0, eq), body.substr(eq + 1));
    } else if (i + 1 < argv.size() && !absl::StartsWith(argv[i + 1], "--")) {
      // Decided later: a switch does not consume the next word.
      values_.emplace(body, argv[i + 1]);
      ++i;
    } else {
      values_.emplace(body, "\x1e");  // present without a value
    }
  }
}

void Args::Describe(std::string text) { description_ = std::move(text); }

std::string Args::Flag(const std::string& name, const std::string& default_value,
                       const std::string& help) {
  declared_.push_back({name, default_value, help, false});
  auto range = values_.equal_range(name);
  std::string out = default_value;
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == "\x1e") {
      errors_.push_back(absl::StrCat("--", name, " needs a value"));
    } else {
      out = it->second;
    }
  }
  return out;
}

std::vector<std::string> Args::Flags(const std::string& name, const std::string& help) {
  declared_.push_back({name, "", help + " (repeatable)", false});
  std::vector<std::string> out;
  auto range = values_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == "\x1e") {
      errors_.push_back(absl::StrCat("--", name, " needs a value"));
    } else {
      out.push_back(it->second);
    }
  }
  return out;
}

bool Args::Bool(const std::string& name, const std::string& help) {
  declared_.push_back({name, "", help, true});
  auto range = values_.equal_range(name);
  bool out = false;
  for (auto it = range.first; it != range.second; ++it) {
    const std::string& v = it->second;
    if (v == "\x1e" || v == "true" || v == "1" || v == "yes") {
      out = true;
    } else if (v == "false" || v == "0" || v == "no") {
      out = false;
    } else {
      // "--switch word": the word was a positional argument.
      out = true;
      positionals_.push_back(v);
    }
  }
  return out;
}

std::string Args::Positional(const std::string& name, const std::string& help) {
  size_t idx = positional_help_.size();
  positional_help_.push_back({name, help});
  return idx < positionals_.size() ? positionals_[idx] : std::string();
}

long Args::Int(const std::string& name, long default_value, const std::string& help) {
  std::string v = Flag(name, std::to_string(default_value), help);
  long out = default_value;
  if (!absl::SimpleAtoi(v, &out)) {
    errors_.push_back(absl::StrCat("--", name, ": '", v, "' is not a whole number"));
  }
  return out;
}

double Args::Double(const std::string& name, double default_value, const std::string& help) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", default_value);
  std::string v = Flag(name, buf, help);
  double out = default_value;
  if (!absl::SimpleAtod(v, &out)) {
    errors_.push_back(absl::StrCat("--", name, ": '", v, "' is not a number"));
  }
  return out;
}

bool Args::Finish() {
  if (help_) {
    std::string usage = absl::StrCat("usage: fedrad ", command_);
    for (const auto& p : positional_help_) absl::StrAppend(&usage, " ", p.first);
    if (!declared_.empty()) absl::StrAppend(&usage, " [flags]");
    std::cout << usage << "\n\n";
    if (!description_.empty()) std::cout << description_ << "\n\n";
    for (const auto& p : positional_help_) {
      std::cout << "  " << p.first << "\n      " << p.second << "\n";
    }
    for (const auto& f : declared_) {
      std::cout << "  --" << f.name << (f.is_switch ? "" : " VALUE") << "\n      " << f.help;
      if (!f.default_value.empty()) std::cout << " (default: " << f.default_value << ")";
      std::cout << "\n";
    }
    exit_code_ = 0;
    return false;
  }
  for (const auto& [name, value] : values_) {
    bool known = false;
    for (const auto& f : declared_) known |= f.name == name;
    if (!known) errors_.push_back(absl::StrCat("unknown flag --", name));
  }
  if (positionals_.size() < positional_help_.size()) {
    errors_.push_back(absl::StrCat("missing argument ", positional_help_[positionals_.size()].first));
  }
  if (positionals_.size() > positional_help_.size()) {
    errors_.push_back(absl::StrCat("unexpected argument '", positionals_[positional_help_.size()], "'"));
  }
  if (!errors_.empty()) {
    for (const auto& e : errors_) std::cerr << "fedrad " << command_ << ": " << e << "\n";
    std::cerr << "Run 'fedrad " << command_ << " --help' for usage.\n";
    exit_code_ = 2;
    return false;
  }
  return true;
}

int Args::UsageError(const std::string& message) {
  std::cerr << "fedrad " << command_ << ": " << message << "\n"
            << "Run 'fedrad " << command_ << " --help' for usage.\n";
  exit_code_ = 2;
  return 2;
}

}  // namespace fedrad::cli
