// The `fedrad` command's subcommand registry and a small argument parser.
//
// Each subcommand lives in its own cli/cmd_<name>.cc, compiled straight into
// the `fedrad` executable, and registers itself:
//
//   namespace {
//   int RunExtract(fedrad::cli::Args& args) {
//     args.Describe("Extract IBSI features from CT images.");
//     std::string out = args.Flag("out", "", "Output CSV path (required)");
//     bool wide = args.Bool("wide", "Write one row per case");
//     if (!args.Finish()) return args.exit_code();  // --help or a bad flag
//     ...
//     return 0;
//   }
//   FEDRAD_REGISTER_COMMAND("extract", "Extract radiomic features", RunExtract);
//   }  // namespace
//
// Nested commands ("pki init", "study submit") register with a space in the
// name. Flags take the forms --name value and --name=value; a flag may be
// repeated (Flags()). Anything not starting with -- is a positional argument.
#ifndef FEDRAD_CLI_COMMAND_H_
#define FEDRAD_CLI_COMMAND_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fedrad::cli {

class Args {
 public:
  Args(std::string command, std::vector<std::string> argv);

  // One paragraph shown by --help.
  void Describe(std::string text);
  // Declares and reads a flag; returns its last value or `default_value`.
  std::string Flag(const std::string& name, const std::string& default_value,
                   const std::string& help);
  // Declares and reads a repeatable flag; returns every value in order.
  std::vector<std::string> Flags(const std::string& name, const std::string& help);
  // Declares and reads a switch (--name, or --name=true/false).
  bool Bool(const std::string& name, const std::string& help);
  // Declares a positional argument, for --help; returns its value or "".
  std::string Positional(const std::string& name, const std::string& help);
  // A numeric flag; a malformed value is reported by Finish().
  long Int(const std::string& name, long default_value, const std::string& help);
  double Double(const std::string& name, double default_value, const std::string& help);

  // Call after declaring everything. Prints help (returns false, exit code 0)
  // on --help; prints an error naming the flag (returns false, exit code 2)
  // on an unknown flag, a missing required positional or a malformed number.
  bool Finish();
  int exit_code() const { return exit_code_; }
  // Reports a usage error (exit code 2) in the standard format.
  int UsageError(const std::string& message);
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  struct FlagHelp {
    std::string name, default_value, help;
    bool is_switch = false;
  };
  std::string command_;
  std::string description_;
  std::vector<FlagHelp> declared_;
  std::vector<std::pair<std::string, std::string>> positional_help_;
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positionals_;
  std::vector<std::string> errors_;
  bool help_ = false;
  int exit_code_ = 0;
};

using CommandFn = std::function<int(Args&)>;

struct Command {
  std::string name;
  std::string summary;
  CommandFn run;
};

// All registered commands, sorted by name.
std::map<std::string, Command>& Registry();

struct Registrar {
  Registrar(const char* name, const char* summary, CommandFn fn);
};

}  // namespace fedrad::cli

#define FEDRAD_CLI_CONCAT_INNER_(a, b) a##b
#define FEDRAD_CLI_CONCAT_(a, b) FEDRAD_CLI_CONCAT_INNER_(a, b)
#define FEDRAD_REGISTER_COMMAND(name, summary, fn)            \
  static ::fedrad::cli::Registrar FEDRAD_CLI_CONCAT_(         \
      fedrad_command_registrar_, __LINE__)(name, summary, fn)

#endif  // FEDRAD_CLI_COMMAND_H_
