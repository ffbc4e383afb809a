#include <iostream>

#include "cli/command.h"

namespace {

int RunVersion(fedrad::cli::Args& args) {
  args.Describe("Prints the fedrad version.");
  if (!args.Finish()) return args.exit_code();
  std::cout << "fedrad " << FEDRAD_VERSION << "\n";
  return 0;
}

FEDRAD_REGISTER_COMMAND("version", "Print the version", RunVersion);

}  // namespace
