// Unit tests for the report component: SVG scales, ticks and path data, chart rendering, run
// parsing, config diff and grouping, stats (Student t CDF against closed forms and table values),
// the record test and record checks on synthetic folders.
#include <gtest/gtest.h>

#include <cmath>

#include "pgolf/core/error.h"
#include "pgolf/report/charts.h"
#include "pgolf/report/compare.h"
#include "pgolf/report/config_diff.h"
#include "pgolf/report/html.h"
#include "pgolf/report/record_check.h"
#include "pgolf/report/run_data.h"
#include "pgolf/report/stats.h"
#include "pgolf/report/svg.h"

namespace pgolf::report {
namespace {

TEST(ReportSvgTest, LinearScaleMapsEndpointsAndFlipsY) {
  const LinearScale sx{0.0, 100.0, 64.0, 624.0};
  EXPECT_DOUBLE_EQ(sx(0.0), 64.0);
  EXPECT_DOUBLE_EQ(sx(100.0), 624.0);
  EXPECT_DOUBLE_EQ(sx(50.0), 344.0);
  const LinearScale sy{1.0, 2.0, 260.0, 44.0};  // larger values go up
  EXPECT_DOUBLE_EQ(sy(1.0), 260.0);
  EXPECT_DOUBLE_EQ(sy(2.0), 44.0);
  EXPECT_DOUBLE_EQ((LinearScale{3.0, 3.0, 0.0, 10.0}(3.0)), 5.0);  // zero-width domain: middle
}

TEST(ReportSvgTest, NiceTicksAreRoundAndCoverTheRange) {
  EXPECT_EQ(nice_ticks(0.0, 100.0, 5), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  const auto t = nice_ticks(1.13, 1.27, 5);
  ASSERT_GE(t.size(), 3u);
  EXPECT_NEAR(t[1] - t[0], 0.05, 1e-12);  // raw step 0.028 -> 0.05
  EXPECT_NEAR(nice_ticks(0.0, 1.0, 4)[1], 0.25, 1e-12);
  EXPECT_GE(t.front(), 1.13 - 1e-12);
  EXPECT_LE(t.back(), 1.27 + 1e-12);
  EXPECT_EQ(nice_ticks(2.0, 2.0, 5), std::vector<double>{2.0});
  EXPECT_TRUE(nice_ticks(NAN, 1.0, 5).empty());
}

TEST(ReportSvgTest, TickLabelsAndThousands) {
  EXPECT_EQ(format_tick(0.25, 0.25), "0.25");
  EXPECT_EQ(format_tick(1.5, 0.5), "1.5");
  EXPECT_EQ(format_tick(200, 50), "200");
  EXPECT_EQ(format_tick(16e6, 2e6), "16M");
  EXPECT_EQ(format_tick(2500, 500), "2500");
  EXPECT_EQ(format_tick(25000, 5000), "25k");
  EXPECT_EQ(thousands(16000000), "16,000,000");
  EXPECT_EQ(thousands(999), "999");
  EXPECT_EQ(xml_escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
}

TEST(ReportSvgTest, PathDataScalesPointsAndBreaksAtNaN) {
  const LinearScale sx{0.0, 10.0, 0.0, 100.0}, sy{0.0, 1.0, 50.0, 0.0};
  EXPECT_EQ(path_data({0, 5, 10}, {0, 0.5, 1}, sx, sy), "M0.0,50.0 L50.0,25.0 L100.0,0.0");
  EXPECT_EQ(path_data({0, 5, 10}, {0, NAN, 1}, sx, sy), "M0.0,50.0 M100.0,0.0");
  EXPECT_EQ(path_data({}, {}, sx, sy), "");
}

TEST(ReportSvgTest, PaddedRangeHandlesConstantAndEmpty) {
  const auto [a, b] = padded_range({1.0, 3.0}, 0.5);
  EXPECT_DOUBLE_EQ(a, 0.0);
  EXPECT_DOUBLE_EQ(b, 4.0);
  const auto [c, d] = padded_range({2.0, NAN}, 0.1);
  EXPECT_LT(c, 2.0);
  EXPECT_GT(d, 2.0);
  EXPECT_EQ(padded_range({}, 0.1), (std::pair<double, double>{0.0, 1.0}));
}

TEST(ReportSvgTest, LineChartHasSeriesPathBandAndTitle) {
  LineChart c;
  c.id = "demo";
  c.title = "Demo <chart>";
  c.series.push_back({"loss", {1, 2, 3}, {3.0, 2.5, 2.0}, "#123456", false, true});
  c.bands.push_back({2, 3, "#00ff00", "SWA"});
  const std::string svg = render_line_chart(c);
  EXPECT_NE(svg.find("data-chart=\"demo\""), std::string::npos);
  EXPECT_NE(svg.find("Demo &lt;chart&gt;"), std::string::npos);
  EXPECT_NE(svg.find("<path class=\"series\" data-label=\"loss\" d=\"M"), std::string::npos);
  EXPECT_NE(svg.find("class=\"band\""), std::string::npos);
  EXPECT_NE(svg.find("<circle"), std::string::npos);
  EXPECT_EQ(svg.find("no data"), std::string::npos);
  EXPECT_NE(render_line_chart(LineChart{}).find("no data"), std::string::npos);
}

TEST(ReportSvgTest, BudgetChartMarksTheCap) {
  const std::string svg = render_budget_chart("b", "bytes", {{"run", 15.0e6, 60e3}}, kByteCap);
  EXPECT_NE(svg.find("cap 16,000,000"), std::string::npos);
  EXPECT_NE(svg.find("15,060,000 (94.1% of cap)"), std::string::npos);
}

TEST(ReportChartsTest, DownsampleAveragesBuckets) {
  std::vector<double> x, y;
  for (int i = 0; i < 10; ++i) {
    x.push_back(i);
    y.push_back(i * 2.0);
  }
  downsample(x, y, 5);
  EXPECT_EQ(x, (std::vector<double>{0.5, 2.5, 4.5, 6.5, 8.5}));
  EXPECT_EQ(y, (std::vector<double>{1, 5, 9, 13, 17}));
  std::vector<double> x2 = {1, 2}, y2 = {3, 4};
  downsample(x2, y2, 5);
  EXPECT_EQ(x2.size(), 2u);
}

const char* kMetrics =
    R"({"event":"val","step":0,"val_loss":4.0,"val_bpb":2.4,"train_time_ms":0,"time":1}
{"event":"train","step":1,"train_loss":4.5,"lr_scale":1.0,"muon_momentum":0.85,"train_time_ms":100,"tokens_per_s":1000,"time":1}
{"event":"train","step":2,"train_loss":4.0,"lr_scale":0.5,"muon_momentum":0.9,"train_time_ms":200,"tokens_per_s":1100,"time":1}
{"event":"train","step":2,"train_loss":3.9,"lr_scale":0.5,"muon_momentum":0.9,"train_time_ms":210,"tokens_per_s":1100,"time":1}
{"event":"train","step":3,"train_loss":3.5,"lr_scale":0.1,"muon_momentum":0.95,"train_time_ms":300,"tokens_per_s":1200,"time":1}

{"event":"val","step":3,"val_loss":3.4,"val_bpb":2.0,"train_time_ms":320,"time":1}
{"event":"final","val_loss":3.45,"val_bpb":2.05,"pre_quant_val_bpb":2.0,"bytes_total":123456,"eval_ms":50,"time":1}
)";

TEST(ReportRunDataTest, ParsesMetricsKeepingTheLastDuplicate) {
  RunData r;
  parse_metrics(kMetrics, r);
  ASSERT_EQ(r.train.size(), 3u);
  EXPECT_DOUBLE_EQ(r.train[1].train_loss, 3.9);  // a resumed run re-logs step 2
  ASSERT_EQ(r.val.size(), 2u);
  EXPECT_EQ(r.steps, 3);
  EXPECT_DOUBLE_EQ(r.train_ms, 320.0);  // the last val line holds the training clock
  EXPECT_DOUBLE_EQ(r.final_bpb, 2.05);
  EXPECT_DOUBLE_EQ(r.pre_quant_bpb, 2.0);
  EXPECT_DOUBLE_EQ(r.bytes_total, 123456);
  EXPECT_NEAR(r.step_avg_ms(), 320.0 / 3, 1e-12);
}

TEST(ReportRunDataTest, BadMetricsLineNamesTheLine) {
  RunData r;
  try {
    parse_metrics("{\"event\":\"train\",\"step\":1}\nnot json\n", r);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
}

TEST(ReportRunDataTest, SwaWindowFromLogOrInferredFromConfig) {
  RunData r;
  parse_metrics(kMetrics, r);
  parse_log_swa("step:1/3 train_loss:4.5\nswa:start step:2\nswa:applying averaged 2 checkpoints\n", r);
  EXPECT_EQ(r.swa_start_step, 2);
  EXPECT_EQ(r.swa_count, 2);
  RunData q;
  parse_metrics(kMetrics, q);
  q.config = {{"train", {{"swa_enabled", true}, {"swa_start_frac", 0.4}}}};
  infer_swa_window(q);
  EXPECT_EQ(q.swa_start_step, 3);  // first lr multiplier below 0.4
  q.swa_start_step = -1;
  q.config["train"]["swa_enabled"] = false;
  infer_swa_window(q);
  EXPECT_EQ(q.swa_start_step, -1);
}

TEST(ReportRunDataTest, EvalAndSubmissionJson) {
  RunData r;
  apply_eval_json({{"pre_quant_val_bpb", 2.1}, {"steps", 7}, {"train_time_ms", 700.0},
                   {"results", {{{"method", "sliding"}, {"val_bpb", 2.2}, {"val_loss", 3.7}}}}},
                  r);
  EXPECT_EQ(r.roundtrip_method, "sliding");
  EXPECT_DOUBLE_EQ(r.sliding_bpb, 2.2);
  EXPECT_TRUE(std::isnan(r.standard_bpb));
  EXPECT_EQ(r.steps, 7);
  apply_submission_json({{"val_bpb", 2.25}, {"seed", 42}, {"bytes_total", 99}}, r);
  EXPECT_DOUBLE_EQ(r.final_bpb, 2.25);
  EXPECT_EQ(r.seed, 42);
  EXPECT_DOUBLE_EQ(r.bytes_total, 99);
}

TEST(ReportChartsTest, EveryChartRendersForARun) {
  RunData r;
  r.name = "run<1>";
  parse_metrics(kMetrics, r);
  r.swa_start_step = 2;
  const auto charts = build_charts({r});
  std::vector<std::string> ids;
  for (const auto& c : charts) {
    ids.push_back(c.id);
    EXPECT_EQ(c.svg.find("no data"), std::string::npos) << c.id;
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"train_loss_step", "val_bpb_step", "train_loss_time",
                                           "val_bpb_time", "lr_momentum", "tokens_per_s",
                                           "final_bpb", "artifact_bytes"}));
  const std::string html = render_report_html({r});
  EXPECT_NE(html.find("run&lt;1&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // no fetched resource
}

TEST(ReportConfigTest, FlattenDiffAndHash) {
  const nlohmann::json a = {{"model", {{"num_layers", 9}, {"model_dim", 512}}},
                            {"train", {{"seed", 1}, {"run_id", "a"}, {"out_dir", "x"}}},
                            {"_sources", {{"num_layers", "default"}}},
                            {"_versions", "v1"}};
  nlohmann::json b = a;
  b["train"]["seed"] = 2;
  b["train"]["run_id"] = "b";
  b["_versions"] = "v2";
  nlohmann::json c = a;
  c["model"]["num_layers"] = 10;
  const auto fa = flatten_config(a), fb = flatten_config(b), fc = flatten_config(c);
  EXPECT_EQ(fa.at("model.num_layers"), "9");
  EXPECT_EQ(fa.at("train.run_id"), "a");  // strings unquoted
  EXPECT_EQ(fa.count("_versions"), 0u);
  EXPECT_EQ(config_hash(fa), config_hash(fb));
  EXPECT_NE(config_hash(fa), config_hash(fc));
  EXPECT_EQ(config_hash(fa).size(), 16u);
  const auto rows = diff_configs({fa, fb, fc});
  std::vector<std::string> differing;
  for (const auto& r : rows)
    if (r.differs) differing.push_back(r.key);
  EXPECT_EQ(differing, (std::vector<std::string>{"model.num_layers", "train.run_id", "train.seed"}));
  const std::string table = config_table_html({"a", "b", "c"}, rows, true);
  EXPECT_NE(table.find("<tr class=\"diff\"><td class=\"k\">model.num_layers"), std::string::npos);
  EXPECT_EQ(table.find("model.model_dim"), std::string::npos);
}

TEST(ReportCompareTest, GroupsBySeedlessConfigWithMeanAndStd) {
  std::vector<CompareRow> rows(3);
  rows[0] = {"a", "h1", "sliding", {}};
  rows[1] = {"b", "h1", "sliding", {}};
  rows[2] = {"c", "h2", "sliding", {}};
  rows[0].f.final_bpb = 1.0;
  rows[1].f.final_bpb = 1.2;
  rows[2].f.final_bpb = 2.0;
  rows[0].f.seed = 1;
  rows[1].f.seed = 2;
  const auto groups = group_rows(rows);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].members, (std::vector<size_t>{0, 1}));
  EXPECT_NEAR(groups[0].mean.final_bpb, 1.1, 1e-12);
  EXPECT_NEAR(groups[0].std.final_bpb, std::sqrt(0.02), 1e-12);
  EXPECT_TRUE(std::isnan(groups[0].mean.seed));
  EXPECT_TRUE(std::isnan(groups[1].std.final_bpb));  // one run: no spread
  const std::string text = format_compare(rows, groups);
  EXPECT_NE(text.find("mean (n=2)"), std::string::npos);
  EXPECT_NE(text.find("1.10000"), std::string::npos);
  EXPECT_EQ(compare_json(rows, groups)["groups"][0]["runs"].size(), 2u);
}

TEST(ReportStatsTest, TCdfMatchesClosedFormsAndTables) {
  for (double t : {-30.0, -6.965, -2.0, -0.3, 0.0, 0.7, 4.0}) {
    EXPECT_NEAR(t_cdf(t, 1), 0.5 + std::atan(t) / M_PI, 1e-12) << t;          // Cauchy
    EXPECT_NEAR(t_cdf(t, 2), 0.5 + t / (2 * std::sqrt(2 + t * t)), 1e-12) << t;
  }
  // One-sided table quantiles: P(T <= -q) = alpha.
  EXPECT_NEAR(t_cdf(-3.746947, 4), 0.01, 2e-7);
  EXPECT_NEAR(t_cdf(-2.763769, 10), 0.01, 2e-7);
  EXPECT_NEAR(t_cdf(2.045230, 29), 0.975, 2e-7);
  EXPECT_NEAR(t_cdf(-2.390119, 60), 0.01, 2e-7);
  EXPECT_NEAR(betainc(2.0, 3.0, 0.4), 0.5248, 1e-12);
  EXPECT_THROW(t_cdf(1.0, 0.0), Error);
}

TEST(ReportStatsTest, RecordTestOnPr180Seeds) {
  // PR #180's three seeds (nats) against smear9's seed-1337 loss, computed by hand.
  const std::vector<double> loss = {1.92941613, 1.92987577, 1.92923337};
  const double base = 1.93492097;
  const double m = (loss[0] + loss[1] + loss[2]) / 3;
  double ss = 0;
  for (double x : loss) ss += (x - m) * (x - m);
  const double sd = std::sqrt(ss / 2);
  const double t = (m - (base - 0.005)) / (sd / std::sqrt(3.0));
  const RecordTest r = record_test(loss, base, 0.005);
  EXPECT_NEAR(r.mean_nats, m, 1e-15);
  EXPECT_NEAR(r.sd_nats, sd, 1e-15);
  EXPECT_NEAR(r.t, t, 1e-9);
  EXPECT_NEAR(r.p_value, 0.5 + t / (2 * std::sqrt(2 + t * t)), 1e-9);  // df = 2 closed form
  EXPECT_NEAR(r.p_value, 0.0818, 5e-4);
  EXPECT_FALSE(r.significant(0.01));
  EXPECT_TRUE(record_test({1.0, 1.001, 0.999}, 1.1, 0.005).significant(0.01));
  EXPECT_NEAR(record_test({1.095, 1.094, 1.096}, 1.1, 0.005).p_value, 0.5, 1e-12);
  EXPECT_FALSE(record_test({1.0}, 1.1, 0.005).defined);
  EXPECT_DOUBLE_EQ(record_test({1.0, 1.0}, 1.1, 0.005).p_value, 0.0);  // no spread, below
}

std::string log_text(double loss, double bpb, double train_ms, double eval_ms, bool cap) {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "warmup_step:1/20\nstep:1/20000 train_loss:6.9 train_time:100ms step_avg:100.00ms\n"
                "step:6709/20000 val_loss:1.9473 val_bpb:1.1533 train_time:%.0fms step_avg:89.44ms\n"
                "%s"
                "Total submission size: 98490349 bytes\n"
                "Total submission size int8+zlib: 15965978 bytes\n"
                "final_int8_zlib_roundtrip val_loss:%.4f val_bpb:%.4f eval_time:%.0fms\n"
                "final_int8_zlib_roundtrip_exact val_loss:%.8f val_bpb:%.8f\n",
                train_ms, cap ? "stopping_early: wallclock_cap train_time:600037ms step:6709/20000\n" : "",
                loss, bpb, eval_ms, loss, bpb);
  return buf;
}

TEST(ReportRecordTest, ParsesReferenceLogLines) {
  const LogSummary s = parse_train_log(log_text(1.92941613, 1.14271194, 600037, 168421, true));
  EXPECT_EQ(s.last_step, 6709);
  EXPECT_DOUBLE_EQ(s.train_time_ms, 600037);
  EXPECT_DOUBLE_EQ(s.step_avg_ms, 89.44);
  EXPECT_TRUE(s.stopped_by_cap);
  EXPECT_DOUBLE_EQ(s.bytes_total, 15965978);  // the last total: the compressed artifact
  EXPECT_DOUBLE_EQ(s.eval_time_ms, 168421);
  ASSERT_NE(s.score(), nullptr);
  EXPECT_EQ(s.score()->tag, "final_int8_zlib_roundtrip");
  EXPECT_DOUBLE_EQ(s.score()->val_bpb, 1.14271194);
}

CheckStatus status_of(const RecordCheck& c, const std::string& prefix) {
  for (const auto& i : c.items)
    if (i.name.rfind(prefix, 0) == 0) return i.status;
  ADD_FAILURE() << "no check " << prefix;
  return CheckStatus::kSkip;
}

TEST(ReportRecordTest, ThreeSeedRecordPassesAndFailuresAreNamed) {
  std::vector<LogSummary> logs;
  const double loss[] = {1.92941613, 1.92987577, 1.92923337};
  const double bpb[] = {1.14271194, 1.14298416, 1.14260369};
  for (int i = 0; i < 3; ++i) {
    logs.push_back(parse_train_log(log_text(loss[i], bpb[i], 600037, 168421, true)));
    logs.back().path = "train_seed" + std::to_string(i) + ".log";
  }
  const std::vector<std::string> files = {"README.md", "submission.json", "train_gpt.py",
                                          "train_seed0.log", "train_seed1.log", "train_seed2.log"};
  const nlohmann::json sub = {{"name", "x"}, {"author", "a"}, {"github_id", "g"},
                              {"val_bpb", 1.14276}, {"bytes_total", 15965978}};
  RecordCheckOptions o;
  o.baseline_bpb = 1.2244;  // the naive baseline: a clear, significant win
  RecordCheck c = check_record(files, sub, logs, o);
  EXPECT_TRUE(c.passed()) << format_record_check(c);
  EXPECT_EQ(status_of(c, "record significance"), CheckStatus::kPass);
  EXPECT_EQ(status_of(c, "train time"), CheckStatus::kPass);  // 600.037 s: the cap-crossing step

  o.baseline_bpb = 1.1458;  // smear9: only ~0.003 bpb better, not 0.005 nats: not significant
  c = check_record(files, sub, logs, o);
  EXPECT_EQ(status_of(c, "record significance"), CheckStatus::kFail);

  nlohmann::json bad = sub;
  bad["val_bpb"] = 1.20;
  bad["bytes_total"] = 16000001;
  bad.erase("author");
  c = check_record({"submission.json", "train_seed0.log"}, bad, logs, RecordCheckOptions{});
  EXPECT_FALSE(c.passed());
  EXPECT_EQ(status_of(c, "file README.md"), CheckStatus::kFail);
  EXPECT_EQ(status_of(c, "code"), CheckStatus::kFail);
  EXPECT_EQ(status_of(c, "submission fields"), CheckStatus::kFail);
  EXPECT_EQ(status_of(c, "submission val_bpb"), CheckStatus::kFail);
  EXPECT_EQ(status_of(c, "bytes"), CheckStatus::kFail);
  EXPECT_EQ(status_of(c, "record significance"), CheckStatus::kSkip);  // no baseline given

  logs[0] = parse_train_log(log_text(loss[0], bpb[0], 700000, 700000, false));
  c = check_record(files, sub, logs, RecordCheckOptions{});
  EXPECT_EQ(status_of(c, "train time"), CheckStatus::kFail);
  EXPECT_EQ(status_of(c, "eval time"), CheckStatus::kFail);
}

TEST(ReportRecordTest, LaterLogFormatAndEvalTimeRules) {
  // The later records' format: minutes in step lines, "quantized*" / "legal_ttt_exact" scores.
  const LogSummary s = parse_train_log(
      "4500/20000 train_loss: 2.8134 train_time: 8.7m tok/s: 6805522\n"
      "stopping_early: wallclock_cap train_time: 588136ms step: 4986/20000\n"
      "DIAGNOSTIC post_ema val_loss:2.8 val_bpb:1.08 eval_time:6000ms\n"
      "quantized val_loss:2.85032574 val_bpb:1.10344992 eval_time:300000ms\n"
      "legal_ttt_exact val_loss:2.78966630 val_bpb:1.07996676 eval_time:330420ms\n");
  EXPECT_DOUBLE_EQ(s.train_time_ms, 588136);  // the stop line, not 8.7 minutes
  ASSERT_EQ(s.finals.size(), 2u);             // upper-case diagnostics are not scores
  EXPECT_EQ(s.score()->tag, "legal_ttt");
  EXPECT_DOUBLE_EQ(s.score()->eval_ms, 330420);
  EXPECT_DOUBLE_EQ(s.eval_time_ms, 630420);
  std::vector<LogSummary> logs = {s};
  logs[0].path = "train_seed42.log";
  RecordCheck c = check_record({"README.md"}, nullptr, logs, RecordCheckOptions{});
  EXPECT_EQ(status_of(c, "train time"), CheckStatus::kPass);
  EXPECT_EQ(status_of(c, "eval time"), CheckStatus::kWarn);  // score eval fits, all evals do not
  // An evaluation-only log next to a training log has no training time to check.
  logs.push_back(parse_train_log("legal_ttt_exact val_loss:2.79 val_bpb:1.08 eval_time:1000ms\n"));
  c = check_record({"README.md"}, nullptr, logs, RecordCheckOptions{});
  EXPECT_EQ(status_of(c, "train time"), CheckStatus::kPass);
  logs.erase(logs.begin());
  c = check_record({"README.md"}, nullptr, logs, RecordCheckOptions{});
  EXPECT_EQ(status_of(c, "train time"), CheckStatus::kFail);  // no training log at all
}

TEST(ReportRecordTest, TrainingDataCalibrationCountsAgainstTheCap) {
  // The 1.0611 record's seed-42 log: the loop to 599.6 s, then Hessians from training data.
  std::vector<LogSummary> logs = {parse_train_log(
      "stopping_early: wallclock_cap train_time: 599592ms step: 4945/20000\n"
      "GPTQ:collecting Hessians from calibration data...\n"
      "GPTQ:collected 67 Hessians in 4.7s\n")};
  logs[0].path = "train_seed42.log";
  EXPECT_DOUBLE_EQ(logs[0].calibration_ms, 4700);
  RecordCheck c = check_record({"README.md"}, nullptr, logs, RecordCheckOptions{});
  EXPECT_EQ(status_of(c, "train time"), CheckStatus::kPass);  // the loop alone fits
  EXPECT_EQ(status_of(c, "GPTQ calibration"), CheckStatus::kFail);  // 604.3 s
  // The 8 s reserve re-run: loop 592.1 s + 3.4 s fits. AR self-generated calibration
  // (another line) reads no training data and is not counted.
  logs = {parse_train_log("stopping_early: wallclock_cap train_time: 592100ms step: 4900/20000\n"
                          "GPTQ:collected 67 Hessians in 3.4s\n")};
  c = check_record({"README.md"}, nullptr, logs, RecordCheckOptions{});
  EXPECT_EQ(status_of(c, "GPTQ calibration"), CheckStatus::kPass);
  logs = {parse_train_log("stopping_early: wallclock_cap train_time: 599900ms step: 4900/20000\n"
                          "gptq:collected hessians for 67 layers (AR self-gen)\n")};
  EXPECT_FALSE(std::isfinite(logs[0].calibration_ms));
}

TEST(ReportRecordTest, SubmissionMayReportAnEarlierScoreLine) {
  // A sliding-window score followed by a worse diagnostic TTT score; the submission is the former.
  std::vector<LogSummary> logs = {parse_train_log(
      "step:10/10 val_loss:2.6 val_bpb:1.11 train_time:500000ms step_avg:50000.00ms\n"
      "final_int6_sliding_window val_loss:2.50671564 val_bpb:1.08938974 eval_time:76195ms\n"
      "final_int6_ttt val_loss:3.07421378 val_bpb:1.33603200 eval_time:405410ms\n")};
  logs[0].path = "train.log";
  const nlohmann::json sub = {{"name", "x"}, {"author", "a"}, {"github_id", "g"},
                              {"val_bpb", 1.0894}, {"val_loss", 2.5067}, {"bytes_total", 1}};
  const RecordCheck c = check_record({"README.md", "submission.json", "train_gpt.py", "train.log"},
                                     sub, logs, RecordCheckOptions{});
  EXPECT_TRUE(c.passed()) << format_record_check(c);
  EXPECT_EQ(status_of(c, "score line"), CheckStatus::kWarn);
  EXPECT_EQ(status_of(c, "submission val_bpb"), CheckStatus::kPass);
  EXPECT_EQ(status_of(c, "submission val_loss"), CheckStatus::kPass);
  EXPECT_NE(format_record_check(c).find("score eval 76.2s"), std::string::npos);
}

// The frontier records' log lines (issue 22): alias _exact lines, both GPTQ calibration lines, the
// reserve, the TTT timer and the byte parts, as the published 1.1228/1.1122/1.0810/1.0611 logs print them.
TEST(ReportRecordTest, FrontierLogLinesAliasReserveTimerAndByteParts) {
  const std::string l1122 =
      "gptq:reserving 14000ms from training budget, effective=586000ms\n"
      "stopping_early: wallclock_cap train_time:586090ms step:6709/20000\n"
      "Code size: 96398 bytes\n"
      "gptq:calibrated 66 layers in 6.8s\n"
      "Serialized model int6+lzma: 15877564 bytes\n"
      "Total submission size int6+lzma: 15973962 bytes\n"
      "final_int6_sliding_window val_loss:1.8773 val_bpb:1.1118 stride:64 eval_time:78358ms\n"
      "final_int6_sliding_window_exact val_loss:1.87728338 val_bpb:1.11183590\n"
      "final_int8_zlib_roundtrip_exact val_loss:1.87728338 val_bpb:1.11183590\n";
  LogSummary s = parse_train_log(l1122);
  ASSERT_EQ(s.finals.size(), 1u);  // the int8_zlib line repeats the sliding score: an alias
  EXPECT_DOUBLE_EQ(s.score()->eval_ms, 78358);
  EXPECT_DOUBLE_EQ(s.calibration_ms, 6800);
  EXPECT_DOUBLE_EQ(s.reserve_effective_ms, 586000);
  EXPECT_DOUBLE_EQ(s.code_bytes, 96398);
  EXPECT_DOUBLE_EQ(s.model_bytes, 15877564);
  s.path = "train_seed1337.log";
  RecordCheck c = check_record({"README.md"}, nullptr, {s}, RecordCheckOptions{});
  EXPECT_EQ(status_of(c, "GPTQ calibration"), CheckStatus::kPass);  // 592.9 s
  EXPECT_EQ(status_of(c, "bytes code + model = total"), CheckStatus::kPass);
  EXPECT_EQ(status_of(c, "eval time"), CheckStatus::kPass);
  // The 1.0611 record: a 0.5 s reserve, Hessians to 604.3 s: reserved, so a warning; the TTT timer.
  s = parse_train_log(
      "gptq:reserving 0s, effective=599500ms\n"
      "stopping_early: wallclock_cap train_time: 599592ms step: 4945/20000\n"
      "GPTQ:collected 67 Hessians in 4.7s\n"
      "beginning TTT eval timer\n"
      "quantized_ttt_phased val_loss:2.31944212 val_bpb:1.05989454 eval_time:508785ms\n");
  EXPECT_TRUE(s.ttt_timer);
  c = check_record({"README.md"}, nullptr, {s}, RecordCheckOptions{});
  EXPECT_EQ(status_of(c, "GPTQ calibration"), CheckStatus::kWarn);
  EXPECT_NE(format_record_check(c).find("(reserve 0.5s)"), std::string::npos) << format_record_check(c);
  EXPECT_NE(format_record_check(c).find("TTT eval timer"), std::string::npos);
  // Parts that do not add up to the logged total fail.
  s = parse_train_log("Code size: 100 bytes\nSerialized model int6+zstd: 900 bytes\n"
                      "Total submission size int6+zstd: 1001 bytes\n");
  c = check_record({"README.md"}, nullptr, {s}, RecordCheckOptions{});
  EXPECT_EQ(status_of(c, "bytes code + model = total"), CheckStatus::kFail);
}

TEST(ReportRecordTest, EvalCapIsOnScoringWithDecompressionAndWarmupPrinted) {
  // The 1.0611 record's seed-42 tail: decompression and compile warm-up precede the TTT timer.
  std::vector<LogSummary> logs = {parse_train_log(
      "stopping_early: wallclock_cap train_time: 599592ms step: 4945/20000\n"
      "Deserialize: decompression done in 24.0s\n"
      "ttt_lora:compile warmup done (137.6s)\n"
      "quantized_ttt_phased val_loss:2.31944212 val_bpb:1.05989454 eval_time:508785ms\n"
      "total_eval_time:508.8s\n")};
  logs[0].path = "train_seed42.log";
  EXPECT_DOUBLE_EQ(logs[0].decompress_ms, 24000);
  EXPECT_DOUBLE_EQ(logs[0].warmup_ms, 137600);
  RecordCheck c = check_record({"README.md"}, nullptr, logs, RecordCheckOptions{});
  EXPECT_EQ(status_of(c, "eval time"), CheckStatus::kPass);  // 508.8 s; the 161.6 s are outside
  const std::string text = format_record_check(c);
  EXPECT_NE(text.find("decompression 24.0s, warm-up 137.6s"), std::string::npos) << text;
  // pgolf eval's own line.
  const auto p = parse_train_log(
      "eval_ttt_doc val_loss:2.3 val_bpb:1.06 tokens:10 bytes:20 documents:2 eval_time:700000ms\n"
      "eval_timing method:ttt_doc decompress:1.5s warmup:2.0s score:700.0s\n");
  EXPECT_DOUBLE_EQ(p.decompress_ms, 1500);
  EXPECT_DOUBLE_EQ(p.warmup_ms, 2000);
  logs = {p};
  c = check_record({"README.md"}, nullptr, logs, RecordCheckOptions{});
  EXPECT_EQ(status_of(c, "eval time"), CheckStatus::kFail);  // scoring alone is over 600 s
}

}  // namespace
}  // namespace pgolf::report
