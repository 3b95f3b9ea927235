// The SVG line chart: well-formed markup (balanced tags, escaped text), every finite point drawn
// inside the plot area at the right height, gaps for NaN, round y ticks, the legend, and errors
// for charts that cannot be drawn.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/errors.h"
#include "train/svg_plot.h"

namespace graft {
namespace {

using train::ChartSeries;
using train::LineChart;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The start tags (text between '<' and '>') of an XML document, checking on the way that every
// element is closed in order. An unbalanced document is a test failure.
std::vector<std::string> start_tags(const std::string& xml) {
  std::vector<std::string> tags, open;
  size_t at = 0;
  while ((at = xml.find('<', at)) != std::string::npos) {
    const size_t end = xml.find('>', at);
    if (end == std::string::npos) {
      ADD_FAILURE() << "unterminated tag at " << at;
      break;
    }
    const std::string tag = xml.substr(at + 1, end - at - 1);
    at = end + 1;
    if (tag.starts_with('?')) continue;  // the XML declaration
    if (tag.starts_with('/')) {
      EXPECT_FALSE(open.empty()) << "</" << tag << "> closes nothing";
      if (open.empty()) continue;
      EXPECT_EQ(tag.substr(1), open.back()) << "mismatched closing tag";
      open.pop_back();
      continue;
    }
    tags.push_back(tag);
    if (!tag.ends_with('/')) open.push_back(tag.substr(0, tag.find(' ')));
  }
  EXPECT_TRUE(open.empty()) << open.size() << " unclosed elements, the last <" << (open.empty() ? "" : open.back()) << ">";
  return tags;
}

double attribute(const std::string& tag, const std::string& name) {
  const size_t at = tag.find(" " + name + "=\"");
  if (at == std::string::npos) {
    ADD_FAILURE() << "no attribute " << name << " in <" << tag << ">";
    return kNaN;
  }
  return std::stod(tag.substr(at + name.size() + 3));
}

std::vector<std::string> tags_of_class(const std::vector<std::string>& tags, const std::string& cls) {
  std::vector<std::string> out;
  for (const std::string& tag : tags) {
    if (tag.find("class=\"" + cls + "\"") != std::string::npos) out.push_back(tag);
  }
  return out;
}

// The text inside every element of class `cls`, in order.
std::vector<std::string> texts_of_class(const std::string& svg, const std::string& cls) {
  std::vector<std::string> out;
  const std::string key = "class=\"" + cls + "\"";
  for (size_t at = svg.find(key); at != std::string::npos; at = svg.find(key, at + 1)) {
    const size_t begin = svg.find('>', at) + 1;
    out.push_back(svg.substr(begin, svg.find('<', begin) - begin));
  }
  return out;
}

LineChart accuracy_chart() {
  LineChart chart;
  chart.title = "accuracy <by> labels & strategy";
  chart.x_label = "labels per class";
  chart.y_label = "top-1";
  chart.x_categories = {"10", "50", "200"};
  chart.series = {{"from scratch", {0.41, 0.62, 0.78}},
                  {"linear probe", {0.71, 0.78, 0.81}},
                  {"fine-tune all", {0.68, 0.80, 0.88}}};
  return chart;
}

TEST(SvgPlot, IsWellFormedWithEveryPointInsideThePlotArea) {
  const LineChart chart = accuracy_chart();
  const std::string svg = train::render_svg(chart);
  ASSERT_TRUE(svg.starts_with("<?xml"));
  const std::vector<std::string> tags = start_tags(svg);
  ASSERT_FALSE(tags.empty());
  EXPECT_TRUE(tags.front().starts_with("svg xmlns=\"http://www.w3.org/2000/svg\""));

  const std::vector<std::string> area = tags_of_class(tags, "plot-area");
  ASSERT_EQ(area.size(), 1u);
  const double x = attribute(area[0], "x"), y = attribute(area[0], "y");
  const double w = attribute(area[0], "width"), h = attribute(area[0], "height");
  EXPECT_GT(w, 100);
  EXPECT_GT(h, 100);
  EXPECT_LE(x + w, chart.width);
  EXPECT_LE(y + h, chart.height);

  const std::vector<std::string> markers = tags_of_class(tags, "marker");
  ASSERT_EQ(markers.size(), 9u);
  const std::string ticks = "0.40.50.60.70.80.9";
  std::string tick_text;
  for (const std::string& t : texts_of_class(svg, "y-tick")) tick_text += t;
  EXPECT_EQ(tick_text, ticks) << "round y ticks covering 0.41 .. 0.88";
  for (size_t s = 0; s < chart.series.size(); ++s) {
    for (size_t i = 0; i < 3; ++i) {
      const std::string& m = markers[s * 3 + i];
      const double cx = attribute(m, "cx"), cy = attribute(m, "cy");
      EXPECT_GE(cx, x);
      EXPECT_LE(cx, x + w);
      EXPECT_GE(cy, y);
      EXPECT_LE(cy, y + h);
      // Categories evenly spaced; the axis runs 0.4 (bottom) to 0.9 (top).
      EXPECT_NEAR(cx, x + (i + 0.5) * w / 3, 0.01);
      EXPECT_NEAR(cy, y + h - (chart.series[s].y[i] - 0.4) / 0.5 * h, 0.01);
    }
  }
  EXPECT_EQ(texts_of_class(svg, "legend"), (std::vector<std::string>{"from scratch", "linear probe", "fine-tune all"}));
  EXPECT_EQ(texts_of_class(svg, "x-tick"), chart.x_categories);
  EXPECT_EQ(texts_of_class(svg, "title"), (std::vector<std::string>{"accuracy &lt;by&gt; labels &amp; strategy"}));
}

TEST(SvgPlot, NaNLeavesAGapAndAFixedRangeIsKept) {
  LineChart chart = accuracy_chart();
  chart.series = {{"a", {0.5, kNaN, 0.7}}, {"b", {kNaN, 0.25, kNaN}}};
  chart.y_min = 0;
  chart.y_max = 1;
  const std::string svg = train::render_svg(chart);
  const std::vector<std::string> tags = start_tags(svg);
  EXPECT_EQ(tags_of_class(tags, "marker").size(), 3u);
  const std::vector<std::string> paths = tags_of_class(tags, "series");
  ASSERT_EQ(paths.size(), 2u);
  // "a": two pieces (two moves, no line across the gap); "b": a single point.
  EXPECT_EQ(std::count(paths[0].begin(), paths[0].end(), 'M'), 2);
  EXPECT_EQ(std::count(paths[0].begin(), paths[0].end(), 'L'), 0);
  EXPECT_EQ(texts_of_class(svg, "y-tick"), (std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}));
}

TEST(SvgPlot, ASingleValueGetsARangeAroundIt) {
  LineChart chart = accuracy_chart();
  chart.series = {{"flat", {0.5, 0.5, 0.5}}};
  const std::string svg = train::render_svg(chart);
  const std::vector<std::string> tags = start_tags(svg);
  const std::string area = tags_of_class(tags, "plot-area")[0];
  for (const std::string& m : tags_of_class(tags, "marker")) {
    EXPECT_NEAR(attribute(m, "cy"), attribute(area, "y") + attribute(area, "height") / 2, 0.01);
  }
}

TEST(SvgPlot, ChartsThatCannotBeDrawnAreClearErrors) {
  LineChart chart = accuracy_chart();
  chart.x_categories.clear();
  testing::expect_error([&] { train::render_svg(chart); }, "render_svg", "no x categories");
  chart = accuracy_chart();
  chart.series.clear();
  testing::expect_error([&] { train::render_svg(chart); }, "render_svg", "no series");
  chart = accuracy_chart();
  chart.series[1].y.pop_back();
  testing::expect_error([&] { train::render_svg(chart); }, "linear probe", "one value per category");
  chart = accuracy_chart();
  chart.series[0].y = {kNaN, kNaN, kNaN};
  testing::expect_error([&] { train::render_svg(chart); }, "from scratch", "no finite value");
  chart = accuracy_chart();
  chart.y_min = 1;
  chart.y_max = 0;
  testing::expect_error([&] { train::render_svg(chart); }, "render_svg", "y_min < y_max");
  chart = accuracy_chart();
  chart.y_max = 0.5;
  testing::expect_error([&] { train::render_svg(chart); }, "render_svg", "outside the y range");
  chart = accuracy_chart();
  chart.width = 200;
  testing::expect_error([&] { train::render_svg(chart); }, "render_svg", "no room");
}

}  // namespace
}  // namespace graft
