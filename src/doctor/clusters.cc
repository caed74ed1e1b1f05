#include "doctor/clusters.h"

#include <arpa/inet.h>

#include <toml++/toml.h>
#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace mailsift::doctor {
namespace {

std::string lower_host(std::string s) {
  while (!s.empty() && s.back() == '.')
    s.pop_back();
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool valid_host(std::string_view h) {
  if (h.empty() || h.size() > 253)
    return false;
  size_t label = 0;
  for (char c : h) {
    if (c == '.') {
      if (label == 0)
        return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
      if (++label > 63)
        return false;
    } else {
      return false;
    }
  }
  return label > 0;
}

// A list of strings at `key` (absent = empty); kConfig naming the field otherwise.
Result<std::vector<std::string>> strings(const toml::table& t, std::string_view key,
                                         const std::string& where) {
  std::vector<std::string> out;
  const toml::node* n = t.get(key);
  if (n == nullptr)
    return out;
  const toml::array* a = n->as_array();
  if (a == nullptr)
    return Error::config(where + "." + std::string(key) + " must be an array of strings");
  for (const auto& e : *a) {
    auto s = e.value<std::string>();
    if (!s)
      return Error::config(where + "." + std::string(key) + " must be an array of strings");
    out.push_back(*s);
  }
  return out;
}

Result<std::string> string_field(const toml::table& t, std::string_view key,
                                 const std::string& where, bool required) {
  const toml::node* n = t.get(key);
  if (n == nullptr) {
    if (required)
      return Error::config(where + ": missing " + std::string(key));
    return std::string();
  }
  auto s = n->value<std::string>();
  if (!s || n->type() != toml::node_type::string)
    return Error::config(where + "." + std::string(key) + " must be a string");
  return *s;
}

}  // namespace

Result<Network> parse_network(std::string_view text) {
  std::string s(text);
  s.erase(std::remove_if(s.begin(), s.end(), [](unsigned char c) { return std::isspace(c); }),
          s.end());
  // inet_pton stops at a NUL: only address characters may reach it.
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](unsigned char c) {
        return std::isxdigit(c) || c == '.' || c == ':' || c == '/';
      }))
    return Error::config("not an IP address or network: '" + s + "'");
  Network n;
  std::string addr = s;
  int prefix = -1;
  if (auto slash = s.find('/'); slash != std::string::npos) {
    addr = s.substr(0, slash);
    std::string p = s.substr(slash + 1);
    if (p.empty() || p.size() > 3 ||
        !std::all_of(p.begin(), p.end(), [](unsigned char c) { return std::isdigit(c); }))
      return Error::config("bad network prefix in '" + std::string(text) + "'");
    prefix = std::stoi(p);
  }
  std::array<unsigned char, 16> bytes{};
  int len = 0;
  if (inet_pton(AF_INET, addr.c_str(), bytes.data()) == 1) {
    len = 4;
  } else if (inet_pton(AF_INET6, addr.c_str(), bytes.data()) == 1) {
    len = 16;
    n.v6 = true;
  } else {
    return Error::config("not an IP address or network: '" + std::string(text) + "'");
  }
  const int bits = len * 8;
  if (prefix < 0)
    prefix = bits;
  if (prefix > bits || (prefix == 0))
    return Error::config("bad network prefix in '" + std::string(text) + "'");
  n.prefix = prefix;
  std::array<unsigned char, 16> last = bytes;
  for (int i = prefix; i < bits; ++i) {
    const unsigned char bit = static_cast<unsigned char>(0x80u >> (i % 8));
    if (bytes[i / 8] & bit)
      return Error::config("host bits set in network '" + std::string(text) + "'");
    last[i / 8] |= bit;
  }
  char buf[INET6_ADDRSTRLEN];
  const int af = n.v6 ? AF_INET6 : AF_INET;
  inet_ntop(af, bytes.data(), buf, sizeof buf);
  n.first = buf;
  inet_ntop(af, last.data(), buf, sizeof buf);
  n.last = buf;
  n.text = n.first + (n.single() ? "" : "/" + std::to_string(prefix));
  return n;
}

const Cluster* Clusters::find(std::string_view name) const {
  for (const auto& c : clusters)
    if (c.name == name)
      return &c;
  return nullptr;
}

Result<Clusters> parse_clusters(std::string_view toml_text) {
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    std::ostringstream m;
    m << "clusters file: " << e.description() << " (line " << e.source().begin.line << ")";
    return Error::config(m.str());
  }
  Clusters out;
  for (const auto& [k, v] : root)
    if (k.str() != "cluster")
      return Error::config("clusters file: unknown key '" + std::string(k.str()) +
                           "' (expected [[cluster]] tables)");
  const toml::array* arr = root["cluster"].as_array();
  if (arr == nullptr || arr->empty())
    return Error::config("clusters file: no [[cluster]] table");
  std::set<std::string> names;
  static const std::set<std::string, std::less<>> kKeys = {
      "name", "mx", "outbound", "spf_include", "dmarc_rua", "ptr", "dkim"};
  for (const auto& node : *arr) {
    const toml::table* t = node.as_table();
    if (t == nullptr)
      return Error::config("clusters file: cluster must be a table");
    auto name = string_field(*t, "name", "cluster", true);
    if (!name)
      return name.error();
    if (name->empty())
      return Error::config("cluster: empty name");
    const std::string where = "cluster '" + *name + "'";
    if (!names.insert(*name).second)
      return Error::config("duplicate " + where);
    for (const auto& [k, v] : *t)
      if (!kKeys.contains(k.str()))
        return Error::config(where + ": unknown key '" + std::string(k.str()) + "'");
    Cluster c;
    c.name = *name;
    auto mx = strings(*t, "mx", where);
    if (!mx)
      return mx.error();
    for (auto& h : *mx) {
      h = lower_host(h);
      if (!valid_host(h))
        return Error::config(where + ".mx: bad host name '" + h + "'");
      c.mx.push_back(h);
    }
    if (c.mx.empty())
      return Error::config(where + ": mx must list at least one host");
    auto outbound = strings(*t, "outbound", where);
    if (!outbound)
      return outbound.error();
    for (const auto& o : *outbound) {
      auto n = parse_network(o);
      if (!n)
        return Error::config(where + ".outbound: " + n.error().message);
      c.outbound.push_back(*n);
    }
    if (c.outbound.empty())
      return Error::config(where + ": outbound must list at least one IP or network");
    auto inc = string_field(*t, "spf_include", where, false);
    if (!inc)
      return inc.error();
    c.spf_include = lower_host(*inc);
    if (!c.spf_include.empty() && !valid_host(c.spf_include))
      return Error::config(where + ".spf_include: bad domain '" + c.spf_include + "'");
    auto rua = string_field(*t, "dmarc_rua", where, false);
    if (!rua)
      return rua.error();
    c.dmarc_rua = *rua;
    if (const toml::node* p = t->get("ptr")) {
      const toml::table* pt = p->as_table();
      if (pt == nullptr)
        return Error::config(where + ".ptr must be a table of \"IP\" = \"name\"");
      for (const auto& [ip, name_node] : *pt) {
        auto n = parse_network(ip.str());
        auto v = name_node.value<std::string>();
        if (!n || !n->single() || !v || !valid_host(lower_host(*v)))
          return Error::config(where + ".ptr: bad entry '" + std::string(ip.str()) + "'");
        c.ptr[n->first] = lower_host(*v);
      }
    }
    if (const toml::node* d = t->get("dkim")) {
      const toml::array* da = d->as_array();
      if (da == nullptr)
        return Error::config(where + ".dkim must be [[cluster.dkim]] tables");
      for (const auto& sn : *da) {
        const toml::table* st = sn.as_table();
        if (st == nullptr)
          return Error::config(where + ".dkim must be [[cluster.dkim]] tables");
        for (const auto& [k, v] : *st)
          if (k.str() != "selector" && k.str() != "key_file")
            return Error::config(where + ".dkim: unknown key '" + std::string(k.str()) + "'");
        auto sel = string_field(*st, "selector", where + ".dkim", true);
        if (!sel)
          return sel.error();
        auto file = string_field(*st, "key_file", where + ".dkim", true);
        if (!file)
          return file.error();
        std::string s = lower_host(*sel);
        if (!valid_host(s))
          return Error::config(where + ".dkim: bad selector '" + *sel + "'");
        c.dkim.push_back(Selector{s, *file, std::nullopt});
      }
    }
    out.clusters.push_back(std::move(c));
  }
  return out;
}

Result<Clusters> load_clusters_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Error::config("cannot read clusters file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto parsed = parse_clusters(ss.str());
  if (!parsed)
    return Error::config(path + ": " + parsed.error().message);
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  for (auto& c : parsed->clusters) {
    for (auto& s : c.dkim) {
      std::filesystem::path kp(s.key_file);
      if (kp.is_relative())
        kp = base / kp;
      std::ifstream kin(kp, std::ios::binary);
      if (!kin)
        return Error::config("cluster '" + c.name + "' selector " + s.name +
                             ": cannot read key file " + kp.string());
      std::stringstream ks;
      ks << kin.rdbuf();
      auto key = dkim::SigningKey::from_pem(ks.str());
      if (!key)
        return Error::config("cluster '" + c.name + "' selector " + s.name + ": " + kp.string() +
                             ": " + key.error().message);
      s.key = std::move(key).value();
    }
  }
  return parsed;
}

}  // namespace mailsift::doctor
