#include "weights/json.h"

#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace graft::json {
namespace {

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  Value document() {
    Value v = value(0);
    skip_space();
    if (pos_ != s_.size()) error("end of document");
    return v;
  }

 private:
  [[noreturn]] void error(const char* expected) const {
    fail("JSON: expected ", expected, " at byte ", pos_, " of ", s_.size());
  }

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
  }

  bool consume(char c) {
    skip_space();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool consume_word(const char* word) {
    const std::string w(word);
    if (s_.compare(pos_, w.size(), w) != 0) return false;
    pos_ += w.size();
    return true;
  }

  Value value(int depth) {
    if (depth > 64) error("nesting of at most 64 levels");
    skip_space();
    if (pos_ >= s_.size()) error("a value");
    const char c = s_[pos_];
    Value v;
    if (c == '{') {
      v.data = object(depth);
    } else if (c == '[') {
      v.data = array(depth);
    } else if (c == '"') {
      v.data = string();
    } else if (consume_word("true")) {
      v.data = true;
    } else if (consume_word("false")) {
      v.data = false;
    } else if (consume_word("null")) {
      v.data = nullptr;
    } else {
      number(v);
    }
    return v;
  }

  std::shared_ptr<Object> object(int depth) {
    auto obj = std::make_shared<Object>();
    ++pos_;
    if (consume('}')) return obj;
    do {
      skip_space();
      if (pos_ >= s_.size() || s_[pos_] != '"') error("a string key");
      std::string key = string();
      if (!consume(':')) error("':'");
      (*obj)[key] = value(depth + 1);
    } while (consume(','));
    if (!consume('}')) error("',' or '}'");
    return obj;
  }

  std::shared_ptr<Array> array(int depth) {
    auto arr = std::make_shared<Array>();
    ++pos_;
    if (consume(']')) return arr;
    do {
      arr->push_back(value(depth + 1));
    } while (consume(','));
    if (!consume(']')) error("',' or ']'");
    return arr;
  }

  void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  uint32_t hex4() {
    if (pos_ + 4 > s_.size()) error("4 hex digits");
    uint32_t cp = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      cp <<= 4;
      if (h >= '0' && h <= '9') cp |= h - '0';
      else if (h >= 'a' && h <= 'f') cp |= h - 'a' + 10;
      else if (h >= 'A' && h <= 'F') cp |= h - 'A' + 10;
      else error("a hex digit");
    }
    return cp;
  }

  std::string string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) error("a closing '\"'");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) error("an escape character");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xd800 && cp < 0xdc00 && s_.compare(pos_, 2, "\\u") == 0) {
            pos_ += 2;
            const uint32_t low = hex4();
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          append_utf8(out, cp);
          break;
        }
        default: error("a valid escape");
      }
    }
  }

  void number(Value& v) {
    const size_t start = pos_;
    bool floating = false;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c >= '0' && c <= '9') {
        ++pos_;
      } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
        floating = true;
        ++pos_;
      } else {
        break;
      }
    }
    const std::string token = s_.substr(start, pos_ - start);
    if (token.empty() || token == "-") error("a value");
    char* end = nullptr;
    if (floating) {
      v.data = std::strtod(token.c_str(), &end);
    } else {
      v.data = static_cast<int64_t>(std::strtoll(token.c_str(), &end, 10));
    }
    if (end != token.c_str() + token.size()) error("a number");
  }

  const std::string& s_;
  size_t pos_ = 0;
};

template <class T>
const T& get(const Value& v, const char* what, const char* type) {
  if (const T* p = std::get_if<T>(&v.data)) return *p;
  fail("JSON: ", what, " should be ", type);
}

}  // namespace

const Object& Value::object(const char* what) const { return *get<std::shared_ptr<Object>>(*this, what, "an object"); }
const Array& Value::array(const char* what) const { return *get<std::shared_ptr<Array>>(*this, what, "an array"); }
const std::string& Value::string(const char* what) const { return get<std::string>(*this, what, "a string"); }
int64_t Value::integer(const char* what) const { return get<int64_t>(*this, what, "an integer"); }
double Value::number(const char* what) const {
  if (is_integer()) return static_cast<double>(std::get<int64_t>(data));
  return get<double>(*this, what, "a number");
}

Value parse(const std::string& text) { return Parser(text).document(); }

std::string quote(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace graft::json
