// The `fedrad` command: dispatches to the subcommands registered in
// cli/cmd_*.cc. `fedrad help` lists them.
#include <iostream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/log.h"

namespace {

void PrintOverview() {
  std::cout << "fedrad: federated multicenter validation of CT radiomics models.\n\n"
               "usage: fedrad COMMAND [args] (fedrad COMMAND --help for details)\n\ncommands:\n";
  for (const auto& [name, cmd] : fedrad::cli::Registry()) {
    std::string padded = name;
    if (padded.size() < 22) padded.resize(22, ' ');
    std::cout << "  " << padded << " " << cmd.summary << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  fedrad::SetLogTag("fedrad");
  std::vector<std::string> words(argv + 1, argv + argc);
  if (words.empty() || words[0] == "help" || words[0] == "--help" || words[0] == "-h") {
    PrintOverview();
    return words.empty() ? 2 : 0;
  }
  auto& registry = fedrad::cli::Registry();
  // Longest match first: "study submit" before "study".
  for (size_t n = std::min<size_t>(words.size(), 3); n >= 1; --n) {
    std::string name = words[0];
    for (size_t i = 1; i < n; ++i) name += " " + words[i];
    auto it = registry.find(name);
    if (it == registry.end()) continue;
    fedrad::cli::Args args(name, std::vector<std::string>(words.begin() + n, words.end()));
    return it->second.run(args);
  }
  // A group name alone ("fedrad pki"): list its subcommands.
  bool any = false;
  for (const auto& [name, cmd] : registry) {
    if (name.rfind(words[0] + " ", 0) == 0) {
      if (!any) std::cout << "fedrad " << words[0] << " subcommands:\n";
      any = true;
      std::cout << "  " << name << "  " << cmd.summary << "\n";
    }
  }
  if (any) return 2;
  std::cerr << "fedrad: unknown command '" << words[0] << "'. Run 'fedrad help' for the list.\n";
  return 2;
}
