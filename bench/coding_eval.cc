// coding_eval: runs the text coder over a TSV of phrases with the expected codes
// and prints its quality.
//
//   coding_eval FILE.tsv [--date YYYY-MM-DD] [--inpatient] [--verbose] [--dump]
//
// --dump prints every field of every result (codes, confidences, reasons, queries,
// alternatives), one block per phrase, so two builds can be compared with diff.
//
// FILE.tsv: header row, then `text <TAB> expected [<TAB> note]`; expected is
// space-separated dotted codes in sequence, "-" (nothing to code) or "REVIEW"
// (must not be auto-coded).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "engine/coding/code_sets.h"
#include "engine/coding/mappings_dir.h"
#include "engine/coding/text_coder.h"

using namespace courier::coding;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: coding_eval FILE.tsv [--date YYYY-MM-DD] [--inpatient] [--verbose] [--dump]\n");
    return 2;
  }
  TextCodingOptions opt;
  opt.date = ServiceDate{2026, 3, 1};
  bool verbose = false;
  bool dump = false;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--verbose") == 0) verbose = true;
    if (std::strcmp(argv[i], "--dump") == 0) dump = true;
    if (std::strcmp(argv[i], "--inpatient") == 0) opt.setting = EncounterSetting::kInpatient;
    if (std::strcmp(argv[i], "--date") == 0 && i + 1 < argc) {
      auto d = parseServiceDate(argv[++i]);
      if (!d) {
        std::fprintf(stderr, "bad --date\n");
        return 2;
      }
      opt.date = *d;
    }
  }
  const std::string dir = defaultMappingsDir();
  auto t0 = std::chrono::steady_clock::now();
  auto sets = CodeSets::load(dir + "/codesets");
  if (!sets) {
    std::fprintf(stderr, "%s\n", sets.error().toString().c_str());
    return 1;
  }
  auto coder = TextCoder::build(**sets, dir);
  if (!coder) {
    std::fprintf(stderr, "%s\n", coder.error().toString().c_str());
    return 1;
  }
  auto t1 = std::chrono::steady_clock::now();

  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "cannot open %s\n", argv[1]);
    return 1;
  }
  std::string line;
  std::getline(in, line);  // header
  int rows = 0, coded_rows = 0, top1 = 0, top1_auto = 0, exact_set = 0, reviews = 0;
  int expected_codes = 0, recalled_codes = 0, emitted = 0, false_codes = 0;
  int negated_rows = 0, negated_false_codes = 0, review_rows = 0, review_ok = 0, nothing_ok = 0;
  double seconds = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t tab = line.find('\t');
    if (tab == std::string::npos) continue;
    std::string text = line.substr(0, tab);
    std::string rest = line.substr(tab + 1);
    std::string expected_field = rest.substr(0, rest.find('\t'));
    std::vector<std::string> expected;
    std::istringstream es(expected_field);
    for (std::string c; es >> c;) expected.push_back(c);
    ++rows;
    auto a = std::chrono::steady_clock::now();
    CodingResult r = (*coder)->code(text, opt);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
    if (r.review) ++reviews;
    if (dump) {
      std::printf("PHRASE %s\n  review=%d release=%s\n  reason=%s\n  query=%s\n", text.c_str(), r.review,
                  r.release.c_str(), r.reason.c_str(), r.query.c_str());
      for (const auto* list : {&r.codes, &r.alternatives}) {
        for (const auto& c : *list) {
          std::printf("  %s %s conf=%.2f method=%s display=%s release=%s why=%s\n",
                      list == &r.codes ? "CODE" : "ALT ", c.code.c_str(), c.confidence,
                      std::string(codingMethodName(c.method)).c_str(), c.display.c_str(), c.release.c_str(),
                      c.why.c_str());
        }
      }
    }
    std::vector<std::string> got;
    for (const auto& c : r.codes) got.push_back(c.code);
    emitted += static_cast<int>(got.size());
    bool ok;
    if (expected.size() == 1 && expected[0] == "-") {
      ++negated_rows;
      negated_false_codes += static_cast<int>(got.size());
      ok = got.empty();
      nothing_ok += ok;
    } else if (expected.size() == 1 && expected[0] == "REVIEW") {
      ++review_rows;
      ok = r.review;
      review_ok += ok;
    } else {
      ++coded_rows;
      expected_codes += static_cast<int>(expected.size());
      std::set<std::string> gs(got.begin(), got.end());
      for (const auto& e : expected) recalled_codes += gs.count(e) ? 1 : 0;
      std::set<std::string> es2(expected.begin(), expected.end());
      for (const auto& g : got) false_codes += es2.count(g) ? 0 : 1;
      ok = !got.empty() && got[0] == expected[0];
      top1 += ok;
      top1_auto += ok && !r.review;
      exact_set += (gs == es2);
    }
    if (verbose && (!ok || (!expected.empty() && expected[0] != "-" && expected[0] != "REVIEW" &&
                            std::set<std::string>(got.begin(), got.end()) !=
                                std::set<std::string>(expected.begin(), expected.end())))) {
      std::string g;
      for (const auto& c : got) g += c + " ";
      std::printf("MISS  %-55s expected=%-16s got=%-18s review=%d %s | %s\n", text.c_str(), expected_field.c_str(),
                  g.c_str(), r.review, r.reason.c_str(), r.codes.empty() ? "" : r.codes[0].why.c_str());
    }
  }
  auto pct = [](int a, int b) { return b == 0 ? 0.0 : 100.0 * a / b; };
  std::printf("file: %s\n", argv[1]);
  std::printf("phrases: %d (to code: %d, nothing to code: %d, must review: %d)\n", rows, coded_rows, negated_rows,
              review_rows);
  std::printf("top-1 exact accuracy:            %.1f%% (%d/%d)\n", pct(top1, coded_rows), top1, coded_rows);
  std::printf("top-1 exact, auto-coded only:    %.1f%% (%d/%d)\n", pct(top1_auto, coded_rows), top1_auto, coded_rows);
  std::printf("full code set exact:             %.1f%% (%d/%d)\n", pct(exact_set, coded_rows), exact_set, coded_rows);
  std::printf("recall of expected codes:        %.1f%% (%d/%d)\n", pct(recalled_codes, expected_codes),
              recalled_codes, expected_codes);
  std::printf("codes emitted not expected:      %d of %d\n", false_codes, emitted);
  std::printf("false codes on negated phrases:  %d (phrases correctly left uncoded: %d/%d)\n", negated_false_codes,
              nothing_ok, negated_rows);
  if (review_rows > 0) std::printf("REVIEW rows sent to review:      %d/%d\n", review_ok, review_rows);
  std::printf("review rate:                     %.1f%% (%d/%d)\n", pct(reviews, rows), reviews, rows);
  std::printf("memory: code sets %.1f MB, text coder %.1f MB (%zu documents)\n", (*sets)->memoryBytes() / 1e6,
              (*coder)->memoryBytes() / 1e6, (*coder)->documentCount());
  std::printf("start-up (code sets + coder):    %.0f ms\n",
              std::chrono::duration<double, std::milli>(t1 - t0).count());
  std::printf("coding time:                     %.1f us/phrase\n", rows ? 1e6 * seconds / rows : 0.0);
  return 0;
}
