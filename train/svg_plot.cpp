#include "train/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/error.h"

namespace graft::train {
namespace {

// Pixels around the plot area: room for the title, tick labels, axis labels and the legend.
constexpr double kLeft = 72, kRight = 240, kTop = 48, kBottom = 64;
constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                    "#9467bd", "#8c564b", "#e377c2", "#17becf"};

std::string escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fixed(double v, int decimals = 2) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, v);
  return text;
}

// 1, 2 or 5 times a power of ten, at least `raw`.
double round_step(double raw) {
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0}) {
    if (m * power >= raw * (1 - 1e-9)) return m * power;
  }
  return 10 * power;
}

struct YAxis {
  double min, max, step;
};

YAxis y_axis(const LineChart& chart) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const ChartSeries& s : chart.series) {
    for (const double v : s.y) {
      if (!std::isfinite(v)) continue;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (chart.y_min && chart.y_max) {
    GRAFT_CHECK(std::isfinite(*chart.y_min) && std::isfinite(*chart.y_max) && *chart.y_min < *chart.y_max,
                "render_svg: the y range [", *chart.y_min, ", ", *chart.y_max, "] is empty; give y_min < y_max");
  }
  double want_lo = chart.y_min.value_or(lo), want_hi = chart.y_max.value_or(hi);
  GRAFT_CHECK(lo >= want_lo && hi <= want_hi, "render_svg: the data span [", lo, ", ", hi,
              "] reaches outside the y range [", want_lo, ", ", want_hi, "]; widen y_min/y_max or leave them unset");
  if (want_hi <= want_lo) {  // one value: a range around it
    const double pad = std::max(std::abs(want_hi), 1.0) * 0.05;
    if (!chart.y_min) want_lo -= pad;
    if (!chart.y_max) want_hi += pad;
  }
  const double step = round_step((want_hi - want_lo) / 5);
  // Outward to whole steps; the 1e-9 keeps 0.5 / 0.02 = 25.000000000000004 at 25.
  return {chart.y_min ? *chart.y_min : std::floor(want_lo / step + 1e-9) * step,
          chart.y_max ? *chart.y_max : std::ceil(want_hi / step - 1e-9) * step, step};
}

void check_chart(const LineChart& chart) {
  GRAFT_CHECK(!chart.x_categories.empty(), "render_svg: the chart has no x categories");
  GRAFT_CHECK(!chart.series.empty(), "render_svg: the chart has no series to draw");
  GRAFT_CHECK(chart.width - kLeft - kRight >= 60 && chart.height - kTop - kBottom >= 60, "render_svg: ",
              chart.width, "x", chart.height, " pixels leave no room for the plot; use at least ",
              kLeft + kRight + 60, "x", kTop + kBottom + 60);
  for (const ChartSeries& s : chart.series) {
    GRAFT_CHECK(s.y.size() == chart.x_categories.size(), "render_svg: series '", s.name, "' has ", s.y.size(),
                " values for ", chart.x_categories.size(), " x categories; give one value per category (NaN for none)");
    GRAFT_CHECK(std::any_of(s.y.begin(), s.y.end(), [](double v) { return std::isfinite(v); }),
                "render_svg: series '", s.name, "' has no finite value to draw");
  }
}

}  // namespace

std::string render_svg(const LineChart& chart) {
  check_chart(chart);
  const YAxis axis = y_axis(chart);
  const double x0 = kLeft, y0 = kTop, w = chart.width - kLeft - kRight, h = chart.height - kTop - kBottom;
  const auto n = static_cast<double>(chart.x_categories.size());
  const auto px = [&](size_t i) { return x0 + (static_cast<double>(i) + 0.5) * w / n; };
  const auto py = [&](double v) { return y0 + h - (v - axis.min) / (axis.max - axis.min) * h; };
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(axis.step) + 1e-9)));

  std::string svg = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"" + std::to_string(chart.width) +
         "\" height=\"" + std::to_string(chart.height) + "\" viewBox=\"0 0 " + std::to_string(chart.width) + " " +
         std::to_string(chart.height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(chart.width) + "\" height=\"" +
         std::to_string(chart.height) + "\" fill=\"white\"/>\n";
  svg += "<text class=\"title\" x=\"" + fixed(x0 + w / 2) + "\" y=\"" + fixed(kTop / 2 + 4) +
         "\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">" + escape(chart.title) + "</text>\n";
  svg += "<rect class=\"plot-area\" x=\"" + fixed(x0) + "\" y=\"" + fixed(y0) + "\" width=\"" + fixed(w) +
         "\" height=\"" + fixed(h) + "\" fill=\"none\" stroke=\"#333\"/>\n";

  // y ticks and grid lines at multiples of the step inside the range.
  for (auto k = static_cast<int64_t>(std::ceil(axis.min / axis.step - 1e-9)); k * axis.step <= axis.max + axis.step * 1e-9;
       ++k) {
    const double v = static_cast<double>(k) * axis.step;
    const std::string y = fixed(py(v));
    svg += "<line class=\"grid\" x1=\"" + fixed(x0) + "\" y1=\"" + y + "\" x2=\"" + fixed(x0 + w) + "\" y2=\"" + y +
           "\" stroke=\"#ddd\"/>\n";
    svg += "<line x1=\"" + fixed(x0 - 5) + "\" y1=\"" + y + "\" x2=\"" + fixed(x0) + "\" y2=\"" + y +
           "\" stroke=\"#333\"/>\n";
    svg += "<text class=\"y-tick\" x=\"" + fixed(x0 - 8) + "\" y=\"" + fixed(py(v) + 4) +
           "\" text-anchor=\"end\">" + fixed(v, decimals) + "</text>\n";
  }
  for (size_t i = 0; i < chart.x_categories.size(); ++i) {
    const std::string x = fixed(px(i));
    svg += "<line x1=\"" + x + "\" y1=\"" + fixed(y0 + h) + "\" x2=\"" + x + "\" y2=\"" + fixed(y0 + h + 5) +
           "\" stroke=\"#333\"/>\n";
    svg += "<text class=\"x-tick\" x=\"" + x + "\" y=\"" + fixed(y0 + h + 20) + "\" text-anchor=\"middle\">" +
           escape(chart.x_categories[i]) + "</text>\n";
  }
  svg += "<text class=\"x-label\" x=\"" + fixed(x0 + w / 2) + "\" y=\"" + fixed(chart.height - 14.0) +
         "\" text-anchor=\"middle\">" + escape(chart.x_label) + "</text>\n";
  svg += "<text class=\"y-label\" x=\"18\" y=\"" + fixed(y0 + h / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 18 " +
         fixed(y0 + h / 2) + ")\">" + escape(chart.y_label) + "</text>\n";

  for (size_t s = 0; s < chart.series.size(); ++s) {
    const ChartSeries& series = chart.series[s];
    const std::string colour = kPalette[s % std::size(kPalette)];
    // Consecutive finite values are joined; a NaN starts a new piece.
    std::string path;
    bool joined = false;
    for (size_t i = 0; i < series.y.size(); ++i) {
      if (!std::isfinite(series.y[i])) {
        joined = false;
        continue;
      }
      path += std::string(path.empty() ? "" : " ") + (joined ? "L " : "M ") + fixed(px(i)) + " " + fixed(py(series.y[i]));
      joined = true;
    }
    svg += "<path class=\"series\" d=\"" + path + "\" fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"2\"/>\n";
    for (size_t i = 0; i < series.y.size(); ++i) {
      if (!std::isfinite(series.y[i])) continue;
      svg += "<circle class=\"marker\" cx=\"" + fixed(px(i)) + "\" cy=\"" + fixed(py(series.y[i])) +
             "\" r=\"4\" fill=\"" + colour + "\"><title>" + escape(series.name) + ", " +
             escape(chart.x_categories[i]) + ": " + fixed(series.y[i], 4) + "</title></circle>\n";
    }
    const double ly = y0 + 10 + 22 * static_cast<double>(s), lx = x0 + w + 16;
    svg += "<line x1=\"" + fixed(lx) + "\" y1=\"" + fixed(ly) + "\" x2=\"" + fixed(lx + 24) + "\" y2=\"" + fixed(ly) +
           "\" stroke=\"" + colour + "\" stroke-width=\"2\"/>\n";
    svg += "<circle cx=\"" + fixed(lx + 12) + "\" cy=\"" + fixed(ly) + "\" r=\"4\" fill=\"" + colour + "\"/>\n";
    svg += "<text class=\"legend\" x=\"" + fixed(lx + 32) + "\" y=\"" + fixed(ly + 4) + "\">" + escape(series.name) +
           "</text>\n";
  }
  return svg + "</svg>\n";
}

}  // namespace graft::train
