#include "cli/config_file.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "weights/json.h"

namespace graft::cli {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  GRAFT_CHECK(in.good(), "cannot read the config file ", path, "; check the path");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The command-line words for one config entry; false drops a flag.
std::vector<std::string> option_words(const std::string& key, const json::Value& value, const std::string& path) {
  const std::string option = "--" + key;
  if (const bool* flag = std::get_if<bool>(&value.data)) {
    if (*flag) return {option};
    return {};
  }
  if (value.is_string()) return {option, value.string(key.c_str())};
  if (value.is_integer()) return {option, std::to_string(value.integer(key.c_str()))};
  if (value.is_number()) {
    std::ostringstream text;
    text.precision(17);
    text << value.number(key.c_str());
    return {option, text.str()};
  }
  if (value.is_array()) {  // a list of strings joins with commas: "freeze": ["conv1.*", "bn1.*"]
    std::string joined;
    for (const json::Value& item : value.array(key.c_str())) {
      joined += (joined.empty() ? "" : ",") + item.string(key.c_str());
    }
    return {option, joined};
  }
  fail(path, ": the value of \"", key, "\" must be a string, number, boolean or list of strings");
}

}  // namespace

std::vector<std::string> expand_config(const std::vector<std::string>& argv) {
  std::vector<std::string> from_files, rest;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string path;
    if (argv[i] == "--config") {
      GRAFT_CHECK(i + 1 < argv.size(), "option --config needs a file");
      path = argv[++i];
    } else if (argv[i].rfind("--config=", 0) == 0) {
      path = argv[i].substr(9);
    } else {
      rest.push_back(argv[i]);
      continue;
    }
    json::Value config;
    try {
      config = json::parse(read_text(path));
    } catch (const Error& e) {
      fail("config file ", path, " is not valid JSON: ", e.what());
    }
    GRAFT_CHECK(config.is_object(), "config file ", path, " must hold one JSON object of option: value pairs");
    for (const auto& [key, value] : config.object("config")) {
      for (std::string& word : option_words(key, value, path)) from_files.push_back(std::move(word));
    }
  }
  from_files.insert(from_files.end(), rest.begin(), rest.end());
  return from_files;
}

}  // namespace graft::cli
