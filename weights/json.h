#pragma once
// A small JSON reader and string escaper: enough for safetensors headers and config files.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace graft::json {

struct Value;
using Object = std::map<std::string, Value>;
using Array = std::vector<Value>;

struct Value {
  // null, bool, integer, floating, string, array, object
  std::variant<std::nullptr_t, bool, int64_t, double, std::string, std::shared_ptr<Array>,
               std::shared_ptr<Object>>
      data = nullptr;

  bool is_object() const { return std::holds_alternative<std::shared_ptr<Object>>(data); }
  bool is_array() const { return std::holds_alternative<std::shared_ptr<Array>>(data); }
  bool is_string() const { return std::holds_alternative<std::string>(data); }
  bool is_integer() const { return std::holds_alternative<int64_t>(data); }
  bool is_number() const { return is_integer() || std::holds_alternative<double>(data); }

  // Accessors raise graft::Error naming `what` when the type is wrong.
  const Object& object(const char* what) const;
  const Array& array(const char* what) const;
  const std::string& string(const char* what) const;
  int64_t integer(const char* what) const;
  double number(const char* what) const;
};

// Parses a complete JSON document; errors give the byte position and what was expected.
Value parse(const std::string& text);

// "text" with quotes and escapes, ready to embed in a JSON document.
std::string quote(const std::string& text);

}  // namespace graft::json
