#include "engine/coding/crosswalk.h"

#include <rapidjson/document.h>

#include "engine/coding/csv_line.h"
#include "engine/coding/gzip_file.h"

namespace courier::coding {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}


std::vector<std::string> splitModifiers(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ';' || c == ' ' || c == '|' || c == ':') {
      if (!cur.empty()) out.push_back(std::move(cur)), cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// Member lookup without comparing RapidJSON iterators (ambiguous under C++20).
const rapidjson::Value* member(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key)) return nullptr;
  return &v[key];
}

}  // namespace

std::optional<Equivalence> parseEquivalence(std::string_view t) {
  if (t == "relatedto") return Equivalence::kRelatedTo;
  if (t == "equivalent") return Equivalence::kEquivalent;
  if (t == "equal") return Equivalence::kEqual;
  if (t == "wider") return Equivalence::kWider;
  if (t == "subsumes") return Equivalence::kSubsumes;
  if (t == "narrower") return Equivalence::kNarrower;
  if (t == "specializes") return Equivalence::kSpecializes;
  if (t == "inexact") return Equivalence::kInexact;
  if (t == "unmatched") return Equivalence::kUnmatched;
  if (t == "disjoint") return Equivalence::kDisjoint;
  return std::nullopt;
}

std::string_view equivalenceName(Equivalence e) {
  switch (e) {
    case Equivalence::kRelatedTo: return "relatedto";
    case Equivalence::kEquivalent: return "equivalent";
    case Equivalence::kEqual: return "equal";
    case Equivalence::kWider: return "wider";
    case Equivalence::kSubsumes: return "subsumes";
    case Equivalence::kNarrower: return "narrower";
    case Equivalence::kSpecializes: return "specializes";
    case Equivalence::kInexact: return "inexact";
    case Equivalence::kUnmatched: return "unmatched";
    case Equivalence::kDisjoint: return "disjoint";
  }
  return "unknown";
}

Result<Crosswalk> Crosswalk::parseCsv(std::string_view text, const std::string& name) {
  Crosswalk cw;
  size_t pos = 0;
  size_t line_no = 0;
  bool header = true;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = trim(text.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    if (header) {
      header = false;
      continue;
    }
    auto f = splitCsvLine(line);
    std::string where = name + ":" + std::to_string(line_no);
    if (f.size() < 4) return Unexpected(Error(ErrorCode::kParse, "crosswalk row needs at least 4 columns", where));
    Row row;
    row.source_system = std::string(trim(f[0]));
    std::string code(trim(f[1]));
    auto system = codeSystemFromUri(trim(f[2]));
    if (!system) return Unexpected(Error(ErrorCode::kParse, "unknown target_system", where));
    row.target.system = *system;
    row.target.code = std::string(trim(f[3]));
    if (f.size() > 4 && !trim(f[4]).empty()) {
      auto eq = parseEquivalence(trim(f[4]));
      if (!eq) return Unexpected(Error(ErrorCode::kParse, "unknown equivalence", where));
      row.target.equivalence = *eq;
    }
    if (f.size() > 5) row.target.modifiers = splitModifiers(trim(f[5]));
    if (f.size() > 6) row.target.display = std::string(trim(f[6]));
    if (code.empty() || (row.target.code.empty() && !isNoMap(row.target.equivalence))) {
      return Unexpected(Error(ErrorCode::kParse, "empty source or target code", where));
    }
    cw.by_code_[code].push_back(std::move(row));
    ++cw.rows_;
  }
  return cw;
}

Result<Crosswalk> Crosswalk::parseConceptMap(std::string_view json, const std::string& name) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Unexpected(Error(ErrorCode::kParse, "not a JSON object", name));
  }
  auto str = [](const rapidjson::Value& v, const char* key) -> std::string {
    const rapidjson::Value* m = member(v, key);
    return (m != nullptr && m->IsString()) ? std::string(m->GetString(), m->GetStringLength()) : std::string();
  };
  if (str(doc, "resourceType") != "ConceptMap") {
    return Unexpected(Error(ErrorCode::kParse, "resourceType is not ConceptMap", name));
  }
  Crosswalk cw;
  const rapidjson::Value* groups = member(doc, "group");
  if (groups == nullptr || !groups->IsArray()) return cw;
  size_t gi = 0;
  for (const auto& g : groups->GetArray()) {
    std::string gloc = name + ": group[" + std::to_string(gi++) + "]";
    if (!g.IsObject()) return Unexpected(Error(ErrorCode::kParse, "group is not an object", gloc));
    std::string source = str(g, "source");
    auto target_system = codeSystemFromUri(str(g, "target"));
    if (!target_system) return Unexpected(Error(ErrorCode::kParse, "unknown group.target system", gloc));
    const rapidjson::Value* elements = member(g, "element");
    if (elements == nullptr || !elements->IsArray()) continue;
    size_t ei = 0;
    for (const auto& el : elements->GetArray()) {
      std::string eloc = gloc + ".element[" + std::to_string(ei++) + "]";
      if (!el.IsObject()) return Unexpected(Error(ErrorCode::kParse, "element is not an object", eloc));
      std::string code = str(el, "code");
      if (code.empty()) return Unexpected(Error(ErrorCode::kParse, "element.code missing", eloc));
      const rapidjson::Value* targets = member(el, "target");
      if (targets == nullptr || !targets->IsArray()) continue;
      for (const auto& t : targets->GetArray()) {
        if (!t.IsObject()) return Unexpected(Error(ErrorCode::kParse, "target is not an object", eloc));
        Row row;
        row.source_system = source;
        row.target.system = *target_system;
        row.target.code = str(t, "code");
        row.target.display = str(t, "display");
        std::string eq = str(t, "equivalence");
        if (!eq.empty()) {
          auto e = parseEquivalence(eq);
          if (!e) return Unexpected(Error(ErrorCode::kParse, "unknown equivalence", eloc));
          row.target.equivalence = *e;
        }
        const rapidjson::Value* products = member(t, "product");
        if (products != nullptr && products->IsArray()) {
          for (const auto& p : products->GetArray()) {
            if (!p.IsObject()) continue;
            std::string property = str(p, "property");
            if (property.size() >= 8 && property.compare(property.size() - 8, 8, "modifier") == 0) {
              std::string value = str(p, "value");
              if (!value.empty()) row.target.modifiers.push_back(value);
            }
          }
        }
        if (row.target.code.empty() && !isNoMap(row.target.equivalence)) {
          return Unexpected(Error(ErrorCode::kParse, "target.code missing", eloc));
        }
        cw.by_code_[code].push_back(std::move(row));
        ++cw.rows_;
      }
    }
  }
  return cw;
}

Result<Crosswalk> Crosswalk::load(const std::string& path) {
  auto text = readCompressedFile(path);
  if (!text) return Unexpected(text.error());
  bool json = path.size() >= 5 && (path.compare(path.size() - 5, 5, ".json") == 0 ||
                                   path.find(".json.") != std::string::npos);
  return json ? parseConceptMap(*text, path) : parseCsv(*text, path);
}

std::vector<const CrosswalkTarget*> Crosswalk::lookup(std::string_view source_system,
                                                      std::string_view source_code) const {
  std::vector<const CrosswalkTarget*> out;
  auto it = by_code_.find(std::string(trim(source_code)));
  if (it == by_code_.end()) return out;
  for (const Row& r : it->second) {
    if (source_system.empty() || r.source_system.empty() || r.source_system == source_system) {
      out.push_back(&r.target);
    }
  }
  return out;
}

}  // namespace courier::coding
