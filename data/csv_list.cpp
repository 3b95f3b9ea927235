// read_csv_list: "path,label" lines (see data/image_folder.h for the rules).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "core/error.h"
#include "data/image_folder.h"

namespace graft::data {
namespace {

namespace fs = std::filesystem;

std::string trimmed(const std::string& text) {
  constexpr const char* kSpace = " \t\r\n\f\v";
  const size_t begin = text.find_first_not_of(kSpace);
  return begin == std::string::npos ? std::string() : text.substr(begin, text.find_last_not_of(kSpace) - begin + 1);
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// Splits one line into fields: separated by commas, each either bare (surrounding spaces dropped) or
// in double quotes with "" standing for a quote. Returns nullopt for an unterminated quote.
std::optional<std::vector<std::string>> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  size_t pos = 0;
  while (true) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    std::string field;
    if (pos < line.size() && line[pos] == '"') {
      ++pos;
      while (true) {
        if (pos >= line.size()) return std::nullopt;
        if (line[pos] == '"') {
          if (pos + 1 < line.size() && line[pos + 1] == '"') {
            field += '"';
            pos += 2;
            continue;
          }
          ++pos;
          break;
        }
        field += line[pos++];
      }
      const size_t comma = line.find(',', pos);
      if (!trimmed(line.substr(pos, comma - pos)).empty()) return std::nullopt;  // text after the quote
      pos = comma;
    } else {
      const size_t comma = line.find(',', pos);
      field = trimmed(line.substr(pos, comma - pos));
      pos = comma;
    }
    fields.push_back(field);
    if (pos == std::string::npos) return fields;
    ++pos;  // past the comma
  }
}

std::optional<int64_t> parse_integer(const std::string& text) {
  const bool negative = !text.empty() && text[0] == '-';
  const std::string digits = negative ? text.substr(1) : text;
  if (digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c) != 0; })) {
    return std::nullopt;
  }
  const int64_t value = std::stoll(digits);
  return negative ? -value : value;
}

struct Row {
  std::string path, label, where;  // where: "file:line"
};

}  // namespace

FileList read_csv_list(const std::string& csv_path, const std::vector<std::string>& classes) {
  std::ifstream in(csv_path);
  GRAFT_CHECK(in, "read_csv_list: cannot open '", csv_path, "'",
              fs::exists(csv_path) ? "; check its permissions" : ": no such file");
  const fs::path folder = fs::path(csv_path).parent_path();

  std::vector<Row> rows;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (number == 1 && line.starts_with("\xEF\xBB\xBF")) line.erase(0, 3);  // a UTF-8 byte order mark
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trimmed(line).empty()) continue;
    const std::string where = csv_path + ":" + std::to_string(number);
    const auto fields = split_fields(line);
    GRAFT_CHECK(fields && fields->size() == 2, "read_csv_list: ", where, ": expected \"path,label\", got '", line, "'",
                fields ? concat(" (", fields->size(), " fields)") : std::string(" (an unterminated quote)"));
    GRAFT_CHECK(!(*fields)[0].empty() && !(*fields)[1].empty(), "read_csv_list: ", where,
                ": the path or the label is empty in '", line, "'");
    const std::string label_field = lowercase((*fields)[1]);
    if (rows.empty() && number == 1 && (label_field == "label" || label_field == "class")) continue;  // header
    fs::path path = (*fields)[0];
    if (path.is_relative()) path = folder / path;
    GRAFT_CHECK(fs::exists(path), "read_csv_list: ", where, ": the image '", path.string(),
                "' does not exist (relative paths are relative to the CSV's folder)");
    rows.push_back({path.string(), (*fields)[1], where});
  }
  GRAFT_CHECK(!rows.empty(), "read_csv_list: '", csv_path, "' lists no images; expected \"path,label\" lines");

  const bool integer_labels = parse_integer(rows.front().label).has_value();
  FileList list;
  if (integer_labels) {
    int64_t max_label = -1;
    for (const Row& row : rows) {
      const std::optional<int64_t> label = parse_integer(row.label);
      GRAFT_CHECK(label, "read_csv_list: ", row.where, ": the label '", row.label, "' is not an integer, but ",
                  rows.front().where, " gave one; use integers or class names throughout");
      GRAFT_CHECK(*label >= 0, "read_csv_list: ", row.where, ": the label ", *label, " is negative");
      GRAFT_CHECK(classes.empty() || *label < static_cast<int64_t>(classes.size()), "read_csv_list: ", row.where,
                  ": the label ", *label, " is not below the number of classes, ", classes.size());
      max_label = std::max(max_label, *label);
      list.files.push_back({row.path, *label});
    }
    list.classes = classes;
    for (int64_t i = 0; classes.empty() && i <= max_label; ++i) list.classes.push_back(std::to_string(i));
    return list;
  }

  for (const Row& row : rows) {
    GRAFT_CHECK(!parse_integer(row.label), "read_csv_list: ", row.where, ": the label '", row.label,
                "' is an integer, but ", rows.front().where, " gave a class name; use one kind throughout");
  }
  list.classes = classes;
  if (list.classes.empty()) {
    for (const Row& row : rows) list.classes.push_back(row.label);
    std::sort(list.classes.begin(), list.classes.end());
    list.classes.erase(std::unique(list.classes.begin(), list.classes.end()), list.classes.end());
  }
  std::map<std::string, int64_t> index;
  for (size_t i = 0; i < list.classes.size(); ++i) index.emplace(list.classes[i], static_cast<int64_t>(i));
  for (const Row& row : rows) {
    const auto found = index.find(row.label);
    if (found == index.end()) {
      std::string known;
      for (size_t i = 0; i < list.classes.size() && i < 20; ++i) known += (i ? ", " : "") + list.classes[i];
      fail("read_csv_list: ", row.where, ": unknown class name '", row.label, "'; the classes are ", known,
           list.classes.size() > 20 ? ", ..." : "");
    }
    list.files.push_back({row.path, found->second});
  }
  return list;
}

}  // namespace graft::data
