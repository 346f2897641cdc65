#include "zmesh/tools/select_command.hpp"

#include <boost/program_options.hpp>

#include <cstdint>
#include <ostream>
#include <vector>

#include "zmesh/comm/routing.hpp"
#include "zmesh/mesh/selection_text.hpp"
#include "zmesh/mesh/shape.hpp"

namespace zmesh::tools {

namespace {

namespace po = boost::program_options;

constexpr int kUsageError = 2;
constexpr std::size_t kDefaultFanout = 16;

constexpr const char* kUsage =
    "usage: zmesh select --shape SHAPE [--fanout K] [--seed N] [--tree] SELECTION\n"
    "\n"
    "Prints every rank SELECTION chooses on SHAPE with its point, e.g.\n"
    "  zmesh select --shape '{host=4,gpu=8}' '1:3,0'\n"
    "  rank 8: host=1/4,gpu=0/8\n"
    "  rank 16: host=2/4,gpu=0/8\n"
    "With --tree it then prints the delivery tree a cast would use, one sender per line:\n"
    "  client -> 8 16\n"
    "\n"
    "SHAPE:     {host=4,gpu=8}, or a view of a bigger space such as {host=2,gpu=4}@3[16,2]\n"
    "           (offset 3, strides 16 and 2); ranks printed are ranks of that space.\n"
    "SELECTION: ',' moves to the next dimension; * all; ? any one; first; n an index;\n"
    "           a:b:s a range (defaults 0, end, 1); | union; & intersection; (...) groups,\n"
    "           e.g. '*,*,(1:4|5:6)'; true and false select everything and nothing; missing\n"
    "           trailing dimensions mean all. Quote it: the shell expands * and ?.\n"
    "\n"
    "Options:\n";

constexpr const char* kSelectionHint =
    "hint: selections look like '*,0:4' or '(0,*)|(*,0)'; run 'zmesh help select' for the "
    "syntax";
constexpr const char* kShapeHint =
    "hint: shapes look like '{host=4,gpu=8}'; run 'zmesh help select' for details";

po::options_description describe_options() {
  po::options_description options;
  options.add_options()                                                             //
      ("shape,s", po::value<std::string>(), "the shape to select from (required)")  //
      ("fanout,k", po::value<std::size_t>()->default_value(kDefaultFanout),
       "most children per node in the delivery tree")  //
      ("seed", po::value<std::uint64_t>()->default_value(0),
       "seed for '?' (any one index): the same seed picks the same ranks")  //
      ("tree", po::bool_switch(), "also print the delivery tree")           //
      ("help,h", "print this help");
  return options;
}

int usage_error(std::ostream& err, const std::string& message, const char* hint) {
  err << "zmesh select: " << message << '\n' << hint << '\n';
  return kUsageError;
}

void print_tree(const DeliveryPlan& plan, std::ostream& out) {
  out << "delivery tree (fan-out " << plan.fanout() << ", depth " << plan.depth() << "):\n";
  for (const DeliveryNode& node : plan.tree()) {
    if (node.children.empty()) continue;
    if (node.rank) {
      out << *node.rank;
    } else {
      out << "client";
    }
    out << " ->";
    for (std::size_t child : node.children) out << ' ' << child;
    out << '\n';
  }
}

}  // namespace

int run_select_command(std::span<const std::string> args, std::ostream& out, std::ostream& err) {
  const po::options_description options = describe_options();
  po::options_description all_options;
  all_options.add(options).add_options()("selection", po::value<std::string>());
  po::positional_options_description positional;
  positional.add("selection", 1);

  po::variables_map values;
  try {
    po::store(po::command_line_parser(std::vector<std::string>(args.begin(), args.end()))
                  .options(all_options)
                  .positional(positional)
                  .run(),
              values);
    po::notify(values);
  } catch (const po::too_many_positional_options_error&) {
    return usage_error(err, "expected one SELECTION argument but got several",
                       "hint: quote the selection, e.g. '*, 0:4', so the shell passes one word");
  } catch (const po::error& e) {
    return usage_error(err, e.what(), "hint: run 'zmesh help select' for the options");
  }
  if (values.count("help")) {
    out << kUsage << options;
    return 0;
  }
  if (!values.count("shape")) {
    return usage_error(err, "--shape is required", kShapeHint);
  }
  if (!values.count("selection")) {
    return usage_error(err, "a SELECTION argument is required", kSelectionHint);
  }

  const std::size_t fanout = values["fanout"].as<std::size_t>();
  if (fanout == 0) {
    return usage_error(err, "--fanout 0 is invalid: every node needs at least one child",
                       "hint: leave --fanout out for the default of 16");
  }

  auto shape = Shape::parse(values["shape"].as<std::string>());
  if (!shape) return usage_error(err, shape.error().message, kShapeHint);
  auto selection = parse_selection(values["selection"].as<std::string>());
  if (!selection) return usage_error(err, selection.error().message, kSelectionHint);
  auto plan = DeliveryPlan::create(*shape, *selection, fanout, values["seed"].as<std::uint64_t>());
  // The fan-out is valid, so what remains is a selection that does not fit the shape.
  if (!plan) return usage_error(err, plan.error().message, kSelectionHint);

  for (std::size_t rank : plan->ranks()) {
    // Every rank of the plan comes from the shape, so it has a point there.
    out << "rank " << rank << ": " << shape->point_of_base_rank(rank)->to_string() << '\n';
  }
  if (plan->ranks().empty()) err << "zmesh select: the selection chooses no ranks\n";
  if (values["tree"].as<bool>()) print_tree(*plan, out);
  return 0;
}

}  // namespace zmesh::tools
