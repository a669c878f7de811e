// sluice: change data capture from Postgres into Kafka, and derived stores kept from it.
#include <csignal>
#include <cstdio>
#include <iostream>
#include <set>

#include "commands.hpp"
#include "sink_commands.hpp"

namespace {

constexpr int ex_usage = 64;

const char* const usage = R"(usage: sluice <command> [options]

commands:
  validate -c FILE            check a pipeline file; prints a summary, or every error (exit 78)
  capture  -c FILE            stream the source's changes into Kafka (runs until SIGTERM)
           [--state-dir DIR]  where capture records its confirmed position (default: .sluice)
           [--accept-slot-reset]  start although the slot was dropped or moved by someone else
  snapshot -c FILE --tables schema.table[,...] [--no-wait]
                              re-read tables into Kafka while capture streams on
  tail     -c FILE            print change events from the pipeline's topics
           [--table schema.table] [--max N] [--idle-ms MS]
  sink     NAME -c FILE       run a worker of sink NAME until SIGTERM (start several to share the work)
           [--workers N]      run N workers in this process, each with partitions of its own
                              (default: the sink's workers setting, else 1)
           [--instance ID]    a stable worker name: a restarted worker takes its partitions back at once
  replay   NAME -c FILE       rebuild sink NAME from the beginning of its topics into a shadow copy,
           [--shadow-db N]    then switch it in atomically (default: the highest empty database)
           [--in-place]       clear the live copy and rebuild it instead
  status   -c FILE [--json]   capture's slot lag and state; each sink's lag and state
  version                     print the version
)";

void on_signal(int) {
  sluice::app::stop_requested = true;
}

}  // namespace

int main(int argc, char** argv) {
  using sluice::app::command_line;
  if (argc < 2) {
    std::fputs(usage, stderr);
    return ex_usage;
  }
  command_line cl;
  cl.command = argv[1];
  static const std::set<std::string> flags{"--accept-slot-reset", "--help", "--in-place", "--json",
                                           "--no-wait"};
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-c") arg = "--config";
    if (arg.rfind("--", 0) == 0) {
      if (flags.count(arg) > 0) {
        cl.options[arg] = "true";
      } else if (i + 1 < argc) {
        cl.options[arg] = argv[++i];
      } else {
        std::cerr << "sluice: option " << arg << " needs a value\n";
        return ex_usage;
      }
    } else {
      cl.positional.push_back(arg);
    }
  }

  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);

  if (cl.command == "version" || cl.command == "--version") {
    std::cout << "sluice " << SLUICE_VERSION << "\n";
    return 0;
  }
  if (cl.command == "help" || cl.command == "--help" || cl.flag("--help")) {
    std::fputs(usage, stdout);
    return 0;
  }
  if (cl.command == "validate") return sluice::app::run_validate(cl);
  if (cl.command == "capture") return sluice::app::run_capture(cl);
  if (cl.command == "snapshot") return sluice::app::run_snapshot(cl);
  if (cl.command == "tail") return sluice::app::run_tail(cl);
  if (cl.command == "sink") return sluice::app::run_sink(cl);
  if (cl.command == "replay") return sluice::app::run_replay(cl);
  if (cl.command == "status") return sluice::app::run_status(cl);
  std::cerr << "sluice: unknown command '" << cl.command << "'\n" << usage;
  return ex_usage;
}
