#pragma once
// Command-line options of one subcommand: "--name value", "--name=value" and "--flag".
// Unknown options and malformed values are errors that name the option.
#include <map>
#include <set>
#include <string>
#include <vector>

namespace graft::cli {

class Args {
 public:
  // `valued` lists options that take a value, `flags` those that do not.
  Args(const std::vector<std::string>& argv, const std::set<std::string>& valued,
       const std::set<std::string>& flags);

  bool flag(const std::string& name) const { return flags_.count(name) > 0; }
  std::string get(const std::string& name, const std::string& fallback) const;
  int64_t get_int(const std::string& name, int64_t fallback) const;
  double get_double(const std::string& name, double fallback) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positional_;
};

}  // namespace graft::cli
