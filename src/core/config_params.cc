// The one table of configuration parameters. Add a parameter here and nowhere else: parsing,
// --dump-config and docs/config.md are derived from it.
#include "core/config.h"

namespace mailsift {

const std::vector<ParamSpec>& all_params() {
  using T = ParamType;
  static const std::vector<ParamSpec> kParams = {
      // Parser bounds: hostile mail must not cost unbounded memory or time.
      {"mime.max_message_bytes", T::kInt, "67108864", 1024, 1e10,
       "Messages larger than this are not parsed; the scan reports MIME_TOO_BIG."},
      {"mime.max_header_bytes", T::kInt, "1048576", 1024, 1e9,
       "Largest header block of one MIME entity; the rest is ignored (HEADER_TOO_BIG)."},
      {"mime.max_depth", T::kInt, "16", 1, 256, "Deepest multipart / message/rfc822 nesting parsed."},
      {"mime.max_parts", T::kInt, "1000", 1, 100000, "Most MIME entities parsed in one message."},
      {"mime.max_text_bytes", T::kInt, "4194304", 1024, 1e9,
       "Decoded text kept per part for tokenising and rules (TEXT_TRUNCATED beyond)."},

      // Actions. Spam goes to the spam folder ("add header") by default; reject is opt-in.
      {"actions.add_header", T::kDouble, "6", -1000, 1000,
       "Score at or above which mail is marked as spam (delivered to the spam folder). With the "
       "classifier and rule weights below, 6 gave a ham false-positive rate of 0.1% (2 of 2053; "
       "91% spam recall) in 5-fold engine_cv on the corpus train split, and 0.15% with rules "
       "alone (untrained classifier)."},
      {"actions.rewrite_subject", T::kDouble, "12", -1000, 1000,
       "Score at or above which the subject is tagged (only if actions.rewrite_subject_enabled)."},
      {"actions.rewrite_subject_enabled", T::kBool, "false", 0, 0,
       "Tag the subject of high-scoring spam instead of only adding headers."},
      {"actions.subject_tag", T::kString, "***SPAM*** ", 0, 0,
       "Prefix added to the subject by the rewrite-subject action."},
      {"actions.reject", T::kDouble, "15", -1000, 1000,
       "Score at or above which mail is rejected (only if actions.reject_enabled)."},
      {"actions.reject_enabled", T::kBool, "false", 0, 0,
       "Allow the reject action; when false, mail above actions.reject goes to the spam folder."},
      {"actions.tempfail_on_error", T::kBool, "true", 0, 0,
       "Answer soft reject (tempfail) when a check cannot run (store down); never a silent accept."},

      // Statistical classifier symbols.
      {"bayes.enabled", T::kBool, "true", 0, 0, "Use the statistical classifier."},
      {"bayes.score_per_decade", T::kDouble, "10", 0, 100,
       "Score added per factor of ten in the classifier's calibrated spam odds (p/(1-p)). With "
       "rules.weight_trained this sets the classifier's weight against rule scores (chosen by "
       "5-fold engine_cv on the corpus train split)."},
      {"bayes.max_score", T::kDouble, "60", 0, 1000,
       "Largest absolute score the classifier contributes (spam and ham side). High enough "
       "that confident verdicts keep their order; low enough that fuzzy and rule evidence can "
       "still move a message."},
      {"bayes.min_learned", T::kInt, "10", 1, 1000000,
       "Messages of each class the scope chain must have learned before the classifier votes."},

      // Near-duplicate memory.
      {"fuzzy.enabled", T::kBool, "true", 0, 0, "Look up reported near-duplicates."},
      {"fuzzy.spam_score", T::kDouble, "8", 0, 1000,
       "Score of FUZZY_SPAM at similarity 1.0 (scaled by the similarity found)."},
      {"fuzzy.ham_score", T::kDouble, "-4", -1000, 0,
       "Score of FUZZY_HAM at similarity 1.0 (scaled by the similarity found)."},
      {"fuzzy.threshold", T::kDouble, "0.7", 0.3, 1,
       "Estimated Jaccard similarity at or above which two messages are the same campaign."},
      {"fuzzy.remember_on_learn", T::kBool, "true", 0, 0,
       "Store a fingerprint whenever a message is learned as spam or ham."},

      // Rules.
      {"rules.enabled", T::kBool, "true", 0, 0, "Run the regex/fact rule set."},
      {"rules.weight_trained", T::kDouble, "0.5", 0, 10,
       "Multiplier on rule scores when the classifier votes (SpamAssassin-style score sets: "
       "trained statistics already carry most of what rules see; chosen by 5-fold engine_cv on "
       "the train split, where full-weight rules lowered AUC). Untrained, rules count fully."},
      {"rules.file", T::kString, "", 0, 0,
       "Rule file to load; empty means the rule set shipped with mailsift."},

      // Store.
      {"store.file", T::kString, "mailsift.db", 0, 0,
       "SQLite file name inside the data directory (embedded default store)."},
      {"store.backend", T::kString, "sqlite", 0, 0,
       "Learned-state store: sqlite (embedded, store.file in the data directory), memory "
       "(tests; lost on exit), redis (shared by a fleet, redis.*) or postgres (shared, "
       "postgres.*; docs/fleet.md)."},

      // Fleet backends (docs/fleet.md). Every call is bounded by its timeout; a server that is
      // down or slow makes the call kTemporary (tempfail), never a silent accept.
      {"redis.address", T::kString, "redis://127.0.0.1:6379", 0, 0,
       "Redis server of store.backend = redis: redis://HOST:PORT[/DB], HOST:PORT or "
       "unix:/path. Point it at the primary (or a Sentinel/Cluster-aware proxy)."},
      {"redis.timeout_ms", T::kInt, "200", 1, 60000,
       "Connect timeout and per-command timeout for Redis, in milliseconds."},
      {"redis.pool_size", T::kInt, "4", 1, 1024,
       "Redis connections kept per process; a call waits up to redis.timeout_ms for one."},
      {"redis.prefix", T::kString, "ms:", 0, 0,
       "Prefix of every Redis key (several installations can share one server)."},
      {"postgres.dsn", T::kString, "host=127.0.0.1 port=5432 dbname=mailsift", 0, 0,
       "libpq connection string (or postgresql:// URI) of decisions.backend = postgres."},
      {"postgres.timeout_ms", T::kInt, "2000", 1, 600000,
       "Connect timeout and per-statement timeout (client and server side) for PostgreSQL, in "
       "milliseconds."},
      {"postgres.pool_size", T::kInt, "4", 1, 1024,
       "PostgreSQL connections kept per process; a call waits up to postgres.timeout_ms for one."},
      {"postgres.schema", T::kString, "mailsift", 0, 0,
       "PostgreSQL schema holding mailsift's tables (created if missing; migrated on start)."},
      {"postgres.partition_days", T::kInt, "1", 1, 366,
       "Width in days of each time partition of the PostgreSQL decision log."},

      // Decision log.
      {"decisions.backend", T::kString, "sqlite", 0, 0,
       "Decision log: sqlite (decisions.db in the data directory), memory (tests) or postgres "
       "(shared by a fleet, postgres.*; docs/fleet.md)."},
      {"decisions.retention_days", T::kInt, "0", 0, 36500,
       "mailsiftd deletes decisions older than this many days (hourly; PostgreSQL drops whole "
       "partitions); 0 keeps them forever."},

      // Daemon (mailsiftd) and per-recipient policy. Changing a listen address, the data
      // directory or the thread count needs a restart; everything else is
      // picked up by SIGHUP.
      {"server.milter_listen", T::kString, "inet:127.0.0.1:11332", 0, 0,
       "Milter listener: inet:HOST:PORT, HOST:PORT or unix:/path/to/socket; empty disables it."},
      {"server.http_listen", T::kString, "127.0.0.1:11333", 0, 0,
       "HTTP API listener HOST:PORT (IPv6 as [::1]:PORT); empty disables it."},
      {"server.threads", T::kInt, "0", 0, 256,
       "Worker threads that scan (and run network I/O); 0 means one per CPU core."},
      {"server.data_dir", T::kString, "/var/lib/mailsift", 0, 0,
       "Directory of the store, the decision log (decisions.db, read by `mailsift log`) and the "
       "compiled-rules cache (--data-dir wins)."},
      {"server.policy_file", T::kString, "", 0, 0,
       "Per reseller/domain/user policy file (TOML, docs/per-recipient.md); empty = config "
       "defaults for every recipient."},
      {"server.node_name", T::kString, "", 0, 0,
       "This daemon's name in the decision log; empty means the host name."},
      {"server.milter_idle_timeout", T::kInt, "900", 1, 86400,
       "Seconds a milter connection may stay silent (between MTA commands) before it is closed."},
      {"server.milter_progress_interval", T::kInt, "10", 1, 3600,
       "Seconds between milter progress packets while a scan runs, so the MTA's "
       "milter_content_timeout never fires for a slow scan."},
      {"server.max_milter_packet", T::kInt, "1048576", 65536, 67108864,
       "Largest milter packet accepted; a larger one closes the connection (MTA default action)."},
      {"server.drain_timeout", T::kInt, "30", 0, 3600,
       "Seconds SIGTERM waits for open milter/HTTP conversations to finish before exiting."},
      {"policy.allowlist_score", T::kDouble, "-50", -1000, 0,
       "Score of USER_ALLOWLIST when the envelope sender is on the recipient's allow list."},
      {"policy.blocklist_score", T::kDouble, "50", 0, 1000,
       "Score of USER_BLOCKLIST when the envelope sender is on the recipient's block list."},
  };
  return kParams;
}

}  // namespace mailsift
