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
      {"redis.pool_size", T::kInt, "0", 0, 1024,
       "Redis connections kept per process (opened on demand); a call waits up to "
       "redis.timeout_ms for one. 0 means one per server worker thread (server.threads) plus "
       "one for background work, so a scan never waits for a connection."},
      {"redis.prefix", T::kString, "ms:", 0, 0,
       "Prefix of every Redis key (several installations can share one server)."},
      // Local mirror of large scopes (docs/fleet.md "Local mirror of large scopes").
      {"redis.mirror_scopes", T::kString, "g:", 0, 0,
       "Comma-separated scope keys (g: = global, r:RESELLER, d:DOMAIN) each node keeps in memory "
       "and updates from the scope's Redis change stream at every scan (one XRANGE instead of "
       "token and band reads). Empty: no mirror."},
      {"redis.mirror_stream_max", T::kInt, "2000", 100, 10000000,
       "Approximate length (XADD MAXLEN ~) of a mirrored scope's change stream; a node whose "
       "mirror falls further behind reloads it."},
      {"redis.mirror_max_tokens", T::kInt, "5000000", 0, 1000000000,
       "A mirrored scope with more token fields than this is not mirrored (read from Redis); "
       "bounds the mirror's memory (about 23 bytes per token field)."},
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
      {"postgres.replica_poll_ms", T::kInt, "1000", 0, 600000,
       "mailsiftd with tenant.backend / feedback.backend = postgres keeps the tables every scan "
       "reads (tenants, policies, lists; users' corrections) in memory and reads the other "
       "nodes' changes from a change table this often, so a scan makes no PostgreSQL round "
       "trip; another node's change is seen up to this late (its own at once). 0 = no replica: "
       "every read goes to PostgreSQL (tenant.cache_ms applies). docs/fleet-tenants.md."},
      {"postgres.changes_retention_s", T::kInt, "86400", 60, 31536000,
       "Rows of the replicas' change tables are deleted after this many seconds; a node that "
       "could not read them for half of it reloads its replicas in full."},
      // Faults of the fleet servers (docs/fleet.md "Faults and degraded mode").
      {"fleet.replay", T::kBool, "true", 0, 0,
       "Queue learning and decision-log writes durably (fleet.replay_file) while Redis or "
       "PostgreSQL is down, and replay them when it is back; false: such writes fail (tempfail)."},
      {"fleet.replay_max", T::kInt, "1000000", 1, 1000000000,
       "Most writes the replay queue holds; beyond it a write is refused (kTemporary, logged, "
       "counted in mailsift_fleet_replay_refused_total), never dropped silently."},
      {"fleet.replay_file", T::kString, "replay.db", 0, 0,
       "SQLite file of the replay queue, in the data directory."},
      {"fleet.degraded_score", T::kDouble, "0", -100, 100,
       "Score of the FLEET_DEGRADED symbol a scan gets when the shared store was unavailable "
       "(0: informational)."},
      {"fleet.breaker_ms", T::kInt, "1000", 10, 600000,
       "After a Redis/PostgreSQL call fails, skip that server for this long (scan with local "
       "state, queue writes), then probe it again with one call."},

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
      {"policy.allowlist_score", T::kDouble, "-100", -1000, 0,
       "Score of USER_ALLOWLIST when the envelope sender is on the recipient's allow list. "
       "Larger than any classifier (bayes.max_score) plus rule score, as SpamAssassin's "
       "whitelist_from (-100): a user's explicit choice wins."},
      {"policy.blocklist_score", T::kDouble, "100", 0, 1000,
       "Score of USER_BLOCKLIST when the envelope sender is on the recipient's block list. "
       "Larger than any classifier (bayes.max_score) plus rule score, as SpamAssassin's "
       "blacklist_from (100): a user's explicit choice wins."},

      // Sender authentication (src/auth): SPF, DKIM, ARC, DMARC, iprev, DNS blocklists.
      {"auth.enabled", T::kBool, "false", 0, 0,
       "Run the authentication check in mailsiftd (needs DNS: dns.servers or the system "
       "resolver). Off in the built-in defaults so an offline test or a host without DNS does "
       "not wait on timeouts; deploy/mailsift.toml turns it on."},
      {"auth.authserv_id", T::kString, "", 0, 0,
       "Our authserv-id in Authentication-Results (RFC 8601); incoming headers claiming it are "
       "removed as forged. Empty means server.node_name, else the host name."},
      {"auth.spf", T::kBool, "true", 0, 0, "Check SPF (RFC 7208) of the MAIL FROM and HELO."},
      {"auth.dkim", T::kBool, "true", 0, 0, "Verify every DKIM signature (RFC 6376, RFC 8463)."},
      {"auth.arc", T::kBool, "true", 0, 0, "Validate the ARC chain (RFC 8617)."},
      {"auth.dmarc", T::kBool, "true", 0, 0, "Evaluate DMARC (RFC 7489) for the From domain."},
      {"auth.iprev", T::kBool, "true", 0, 0,
       "Check forward-confirmed reverse DNS of the client IP (RFC 8601 iprev)."},
      {"auth.tempfail_on_dns_error", T::kBool, "false", 0, 0,
       "Treat an SPF/DKIM/DMARC DNS failure like a store outage (soft reject, the sender "
       "retries) instead of only stating it in the verdict."},
      {"auth.dmarc_reject_action", T::kString, "spam_folder", 0, 0,
       "What a failing DMARC p=reject does: spam_folder (default), reject (SMTP 550 5.7.1), or "
       "none (symbol only)."},
      {"auth.dmarc_quarantine_action", T::kString, "spam_folder", 0, 0,
       "What a failing DMARC p=quarantine does: spam_folder (default) or none."},

      // Signing in mailsiftd (src/signing, docs/signing.md): DKIM on outbound mail, ARC seals on
      // inbound mail. Keys are read at start and on SIGHUP; a bad key fails the (re)load.
      {"dkim_sign.enabled", T::kBool, "false", 0, 0,
       "DKIM-sign outbound mail (authenticated or ORIGINATING) that is not refused, with the key "
       "of its From domain (else the envelope sender's domain) from dkim_sign.keys."},
      {"dkim_sign.keys", T::kString, "", 0, 0,
       "Key table: DOMAIN:SELECTOR:PATH entries separated by commas or newlines; PATH is a PEM "
       "private key (RSA or Ed25519) or a base64 Ed25519 seed. Example: "
       "\"example.com:s2026:/etc/mailsift/dkim/example.com.pem\"."},
      {"dkim_sign.subdomains", T::kBool, "true", 0, 0,
       "Mail from a subdomain without its own entry is signed with the nearest listed parent's "
       "key (d= the parent: aligned for relaxed DMARC, not for adkim=s)."},
      {"dkim_sign.headers", T::kString, "", 0, 0,
       "Colon-separated header fields to sign (must include From); empty = From, Reply-To, "
       "Subject, Date, To, Cc, Message-ID, In-Reply-To, References, MIME-Version, Content-Type, "
       "Content-Transfer-Encoding, List-*, Sender. Each is signed as often as it occurs and From "
       "once more (over-signing)."},
      {"dkim_sign.canonicalization", T::kString, "relaxed/relaxed", 0, 0,
       "c= header/body canonicalisation: relaxed/relaxed (default), relaxed/simple, "
       "simple/relaxed or simple/simple."},
      {"dkim_sign.expire_seconds", T::kInt, "0", 0, 31536000,
       "x= this many seconds after signing; 0 = no expiry."},
      {"arc_seal.enabled", T::kBool, "false", 0, 0,
       "ARC-seal (RFC 8617) inbound mail that is delivered after authentication ran "
       "(auth.enabled), with our Authentication-Results as the ARC-Authentication-Results."},
      {"arc_seal.domain", T::kString, "", 0, 0, "d= of our ARC-Message-Signature and ARC-Seal."},
      {"arc_seal.selector", T::kString, "", 0, 0, "s= of our ARC-Message-Signature and ARC-Seal."},
      {"arc_seal.key", T::kString, "", 0, 0,
       "Path of the ARC private key (PEM RSA/Ed25519 or a base64 Ed25519 seed)."},

      // Learning from users' "mark as spam" / "not spam" (src/feedback, docs/feedback.md).
      {"feedback.user_learning", T::kBool, "true", 0, 0,
       "Learn a user's reports into that user's own scope."},
      {"feedback.promote_domain_reporters", T::kInt, "2", 1, 1000,
       "Reliable distinct reporters of one campaign (near-duplicates) in a domain before the "
       "domain's scope learns it."},
      {"feedback.promote_global_reporters", T::kInt, "3", 2, 1000,
       "Reliable distinct reporters of one campaign, from at least two domains, before the "
       "global scope learns it. At least 2: one user alone never teaches everyone."},
      {"feedback.min_reliability", T::kDouble, "0.4", 0, 1,
       "Reporter reliability ((agree+1)/(agree+disagree+2)) below which a user's reports teach "
       "only that user."},
      {"feedback.disagree_probability", T::kDouble, "0.01", 0, 0.5,
       "A spam report on mail the global classifier rates below this spam probability, with no "
       "other reporter, counts against the reporter's reliability."},
      {"feedback.block_sender_after", T::kInt, "3", 1, 1000,
       "Spam reports of one sender (and no 'not spam') after which it is blocked for the user."},
      {"feedback.threshold_step", T::kDouble, "0.25", 0, 10,
       "Shift of a user's spam threshold per correction (missed spam lowers it, a false "
       "positive raises it)."},
      {"feedback.threshold_max_shift", T::kDouble, "2", 0, 100,
       "Largest shift of a user's spam threshold from their corrections, either way."},
      {"feedback.campaign_window_hours", T::kInt, "168", 1, 8760,
       "How far back other users' reports count towards the same campaign."},
      {"feedback.trusted_senders", T::kString, "", 0, 0,
       "Comma-separated DKIM domains trusted for bulk mail: their reported mail (aligned DKIM "
       "pass and List-Unsubscribe) is learned for the reporter only and unsubscribe is offered."},
      {"feedback.arf_spool", T::kString, "", 0, 0,
       "Directory where ARF reports for the spam partner are written (users who consented "
       "only); empty disables sharing."},
      {"feedback.reporting_mta", T::kString, "", 0, 0,
       "Our name in ARF reports (Reporting-MTA); empty means server.node_name or the host name."},
      // Report storms and ARF delivery (src/feedback/rate_limit.h, arf_relay.h; docs/feedback.md).
      {"feedback.rate_limit_per_minute", T::kInt, "30", 0, 100000,
       "Spam/not-spam reports accepted per user (and per API key when one is sent) a minute; "
       "over it the API answers 429 with Retry-After. 0 disables the limit."},
      {"feedback.rate_limit_burst", T::kInt, "20", 1, 100000,
       "Reports a user (or key) may send at once before feedback.rate_limit_per_minute applies."},
      {"feedback.arf_smtp_relay", T::kString, "", 0, 0,
       "SMTP relay (host:port, [IPv6]:port) that delivers the ARF reports in feedback.arf_spool "
       "to feedback.arf_rcpt_to; a report stays in the spool until the relay accepted it. Empty "
       "leaves the reports in the spool."},
      {"feedback.arf_rcpt_to", T::kString, "", 0, 0,
       "The spam partner's address for ARF reports (needed with feedback.arf_smtp_relay)."},
      {"feedback.arf_mail_from", T::kString, "", 0, 0,
       "Envelope sender of ARF reports; empty means abuse-report@<feedback.reporting_mta>."},
      {"feedback.arf_retry_seconds", T::kInt, "60", 1, 86400,
       "How often ARF reports still in the spool are retried while the relay is down."},

      // DNS resolver (src/dns/README.md). Read at start-up and on SIGHUP (a new resolver).
      {"dns.servers", T::kString, "", 0, 0,
       "Nameservers as IP, IP:PORT or [IPv6]:PORT, comma separated, tried in order; empty means "
       "the system's /etc/resolv.conf (which is never read when servers are given here)."},
      {"dns.timeout_ms", T::kInt, "2000", 10, 60000,
       "Milliseconds to wait for the first try of a query; c-ares doubles it for each further "
       "round over the servers. A query that gets no answer is a temporary failure."},
      {"dns.tries", T::kInt, "2", 1, 10, "Rounds over the server list before a query times out."},
      {"dns.max_inflight", T::kInt, "64", 1, 10000,
       "Most DNS queries one resolver has outstanding at once; the rest of a batch waits."},
      {"dns.cache_entries", T::kInt, "10000", 0, 10000000,
       "Answers (positive and NXDOMAIN/NODATA) kept per resolver until their TTL expires; 0 "
       "disables the cache. Failures are never cached."},

      // DNS blocklists and iprev (src/dnsbl/README.md).
      {"dnsbl.lists", T::kString, "", 0, 0,
       "DNS blocklists separated by commas or newlines, each [NAME=]ZONE:KIND:SCORE[:CODES]; KIND "
       "is ip (IPv4 and IPv6), ip4, domain or url (registrable domains of URLs); CODES are "
       "ADDR=NAME[/SCORE] or &BITS=NAME[/SCORE] separated by ';', e.g. "
       "\"zen.spamhaus.org:ip:4:127.0.0.2=SBL;127.0.0.4=XBL/5, dbl.spamhaus.org:domain:3\". "
       "Empty checks no list. Syntax and answer handling: src/dnsbl/README.md."},

      // Domain doctor (docs/doctor.md): `mailsift doctor` and GET /api/v1/doctor/DOMAIN.
      {"doctor.clusters_file", T::kString, "", 0, 0,
       "TOML file describing the provider's clusters (name, MX hosts, outbound IPs/networks, "
       "SPF include, DKIM selectors with their PEM signing keys) for the domain doctor; empty "
       "disables it. Format: docs/doctor.md; example: deploy/clusters.example.toml."},
      {"doctor.dns_servers", T::kString, "", 0, 0,
       "Nameservers the domain doctor asks (same syntax as dns.servers); empty means dns.servers. "
       "Point it at a resolver that sees what the Internet sees when the filter's own resolver "
       "is split-horizon (the quick start points it at its demo zone)."},

      // Outbound (authenticated senders): account status, sending limits, compromised-account
      // detection, the Postfix policy delegation listener (docs/outbound.md). Limits of 0 mean
      // unlimited; all windows slide (per minute / ten minutes / last-seen time).
      {"outbound.policy_listen", T::kString, "", 0, 0,
       "Postfix policy delegation (check_policy_service) listener: inet:HOST:PORT, HOST:PORT or "
       "unix:/path; empty disables it. This and every outbound.* setting are read at start (a "
       "restart applies changes; SIGHUP does not)."},
      {"outbound.file", T::kString, "outbound.db", 0, 0,
       "SQLite file of account statuses, sending counters and alerts inside the data directory."},
      {"outbound.over_limit_action", T::kString, "tempfail", 0, 0,
       "What a sender over a sending limit gets: \"tempfail\" (451 4.7.1 / 452 4.5.3, the client "
       "retries later) or \"reject\" (550 5.7.1 / 550 5.5.3). Held or suspended accounts are "
       "always rejected."},
      {"outbound.user.messages_per_hour", T::kInt, "200", 0, 1e9,
       "Messages one authenticated user may send in any 60 minutes (60 one-minute buckets)."},
      {"outbound.domain.messages_per_hour", T::kInt, "2000", 0, 1e9,
       "Messages all users of one sender domain together may send in any 60 minutes."},
      {"outbound.reseller.messages_per_hour", T::kInt, "0", 0, 1e9,
       "Messages all users of one reseller together may send in any 60 minutes (0 = unlimited)."},
      {"outbound.user.distinct_recipients_per_day", T::kInt, "1000", 0, 1e9,
       "Distinct recipient addresses one user may send to in any 24 hours."},
      {"outbound.domain.distinct_recipients_per_day", T::kInt, "10000", 0, 1e9,
       "Distinct recipient addresses all users of one domain may send to in any 24 hours."},
      {"outbound.reseller.distinct_recipients_per_day", T::kInt, "0", 0, 1e9,
       "Distinct recipient addresses all users of one reseller may send to in any 24 hours."},
      {"outbound.recipients_per_message", T::kInt, "100", 0, 1e6,
       "Recipients accepted in one message; more get 452 4.5.3 (the client sends them in "
       "another transaction)."},
      {"outbound.failed_ratio", T::kDouble, "0.5", 0, 1,
       "Share of failed (rejected/unknown/bounced) recipients in 24 hours above which a user's "
       "new recipients are refused; 0 disables."},
      {"outbound.failed_min_recipients", T::kInt, "20", 1, 1e9,
       "Recipients a user must have sent to in 24 hours before outbound.failed_ratio applies."},
      {"outbound.detect.enabled", T::kBool, "true", 0, 0,
       "Compromised-account detection: hold a user's sending when the signal score reaches "
       "outbound.detect.threshold."},
      {"outbound.detect.threshold", T::kDouble, "1.0", 0.01, 100,
       "Sum of signal weights at which the account is put on hold (sending_disabled, reason "
       "\"auto: ...\", an alert is written). With the default weights no single signal holds."},
      {"outbound.detect.burst_weight", T::kDouble, "0.6", 0, 100,
       "Weight of the burst signal: messages in the last 60 minutes above both "
       "burst_min_messages and burst_factor times the user's hourly EWMA baseline."},
      {"outbound.detect.burst_factor", T::kDouble, "3", 1, 1000,
       "Burst signal: multiple of the user's own hourly baseline (EWMA of hourly counts)."},
      {"outbound.detect.burst_min_messages", T::kInt, "30", 1, 1e9,
       "Burst signal: messages per 60 minutes that never count as a burst (new users, quiet "
       "users)."},
      {"outbound.detect.ewma_alpha", T::kDouble, "0.3", 0.01, 1,
       "Weight of the latest completed hour in the user's baseline (exponentially weighted)."},
      {"outbound.detect.high_score_weight", T::kDouble, "0.5", 0, 100,
       "Weight of the high-score signal: high_score_count outbound messages scoring at least "
       "high_score within 60 minutes (reported by the content scan)."},
      {"outbound.detect.high_score", T::kDouble, "6", -1000, 1000,
       "Spam score from which an outbound message counts as high-scoring."},
      {"outbound.detect.high_score_count", T::kInt, "10", 1, 1e9,
       "High-scoring outbound messages in 60 minutes that raise the high-score signal."},
      {"outbound.detect.failed_weight", T::kDouble, "0.5", 0, 100,
       "Weight of the failed-recipients signal: failed_count or more rejected/unknown/bounced "
       "recipients reported in the last hour."},
      {"outbound.detect.failed_count", T::kInt, "20", 1, 1e9,
       "Failed recipients in the last hour that raise the failed-recipients signal."},
      {"outbound.detect.new_network_weight", T::kDouble, "0.4", 0, 100,
       "Weight of the new-network signal: a login (sasl_username) from a client /24 (IPv4) or "
       "/48 (IPv6) never seen for this user in 180 days, for 24 hours after it (not the first "
       "network ever)."},
      {"outbound.detect.same_content_weight", T::kDouble, "0.5", 0, 100,
       "Weight of the same-content signal: one content digest sent to same_content_recipients "
       "or more recipients within 60 minutes."},
      {"outbound.detect.same_content_recipients", T::kInt, "50", 1, 1e9,
       "Recipients of one content digest in 60 minutes that raise the same-content signal."},
      {"outbound.detect.grace_seconds", T::kInt, "3600", 0, 1e7,
       "After support re-activates a user, detection leaves it alone this long."},
      // Outbound acceptable use policy (src/aup, docs/outbound-aup.md): authenticated mail is
      // scored by the outbound profile (rules + AUP checks, no learned checks) and rejected at end
      // of data at reject_score; never the spam folder.
      {"outbound.aup.enabled", T::kBool, "true", 0, 0,
       "Score authenticated (outbound) mail with the outbound profile: content rules plus the "
       "acceptable use policy checks, rejected at end of data at outbound.aup.reject_score. "
       "false: outbound mail is scored like inbound mail."},
      {"outbound.aup.reject_score", T::kDouble, "10", -1000, 1000,
       "Outbound score at which a message is refused at end of data (550 5.7.1 \"Message refused "
       "by the provider's acceptable use policy: ...\"). Its score also feeds the "
       "compromised-account high-score signal (outbound.detect.high_score)."},
      {"outbound.aup.phishing_score", T::kDouble, "10", -1000, 1000,
       "Score of AUP_PHISHING: an outbound message hit one of outbound.aup.phishing_symbols."},
      {"outbound.aup.phishing_symbols", T::kString, "PHISHING_LINK", 0, 0,
       "Rule-set symbols (comma-separated) that make an outbound message phishing."},
      {"outbound.aup.forged_from_score", T::kDouble, "10", -1000, 1000,
       "Score of AUP_FORGED_FROM: the From domain is neither the sending user's domain (or a "
       "subdomain) nor one of its tenant domains."},
      {"outbound.aup.bulk_score", T::kDouble, "6", -1000, 1000,
       "Score of AUP_BULK_NO_UNSUBSCRIBE: bulk (outbound.aup.bulk_recipients recipients, "
       "Precedence: bulk/list/junk, or List-Id) without a List-Unsubscribe header."},
      {"outbound.aup.bulk_recipients", T::kInt, "50", 0, 1e9,
       "Envelope or To/Cc recipients from which an outbound message is bulk (0 = never by "
       "count)."},
      {"outbound.aup.malware_score", T::kDouble, "10", -1000, 1000,
       "Score of AUP_MALWARE_ATTACHMENT: an executable, double-extension or macro-document "
       "attachment (by name, declared or sniffed type, VBA project inside)."},
      {"outbound.store.backend", T::kString, "sqlite", 0, 0,
       "Sending counters, recipient sets and account status of the policy listener: sqlite "
       "(outbound.file in the data directory), memory (tests) or redis (shared by a fleet, so "
       "limits count across nodes; redis.*; docs/fleet.md)."},
      {"outbound.store.flush_ms", T::kInt, "50", 0, 60000,
       "The outbound store commits sending counters in one transaction at most this many "
       "milliseconds after they change (group commit; status changes and alerts commit at "
       "once). 0: every write is its own transaction. A crash loses at most this much counting."},

      // Outbound IP protection (src/ipwatch, docs/outbound.md "Outbound IPs"): blocklist
      // monitoring of the provider's sending IPs and pool steering through a Postfix socketmap.
      {"ipwatch.pools", T::kString, "", 0, 0,
       "The provider's outbound IPs in pools, in order of preference: "
       "\"POOL=TRANSPORT:IP,IP;POOL2=TRANSPORT2:IP\" (';' or newlines between pools; TRANSPORT "
       "is the master.cf smtp service that binds those IPs). Empty disables the monitor."},
      {"ipwatch.lists", T::kString, "", 0, 0,
       "DNS blocklists the outbound IPs are checked against, in the dnsbl.lists syntax (ip/ip4 "
       "kinds only); empty means the ip/ip4 lists of dnsbl.lists."},
      {"ipwatch.interval_seconds", T::kInt, "900", 5, 86400,
       "Seconds between two checks of every outbound IP against every list (the first runs at "
       "start)."},
      {"ipwatch.default_transport", T::kString, "", 0, 0,
       "Transport the lookup table answers when every pool is unhealthy (logged as an error); "
       "empty answers NOTFOUND, so Postfix falls back to its own default_transport."},
      {"ipwatch.map_listen", T::kString, "", 0, 0,
       "Postfix socketmap listener (inet:HOST:PORT or HOST:PORT) answering the transport of a "
       "healthy pool for sender_dependent_default_transport_maps; empty disables it."},
      {"ipwatch.map_name", T::kString, "outbound_pool", 0, 0,
       "The socketmap name Postfix asks for (socketmap:inet:HOST:PORT:NAME); other names get "
       "PERM."},
      {"ipwatch.file", T::kString, "ipwatch.db", 0, 0,
       "SQLite file (in the data directory) of listing history, delisting records and alerts."},

      // Tenants (src/tenant, docs/tenants.md): resellers, domains, users, per-level policy,
      // block/allow lists and API keys in their own SQLite file.
      {"tenant.file", T::kString, "tenants.db", 0, 0,
       "SQLite file of the tenant store (resellers, domains, users, policies, lists, API keys) "
       "inside the data directory."},
      {"tenant.learning_enabled", T::kBool, "true", 0, 0,
       "Global default of the per-level `learning_enabled` policy (resellers, domains and users "
       "may override it)."},
      // Where a fleet keeps tenants and users' feedback (docs/fleet-tenants.md).
      {"tenant.backend", T::kString, "sqlite", 0, 0,
       "Tenant store: sqlite (tenant.file in the data directory) or postgres (shared by a "
       "fleet: postgres.*, tables tenant_* in postgres.schema)."},
      {"tenant.cache_ms", T::kInt, "0", 0, 600000,
       "Keep the scan path's tenant reads (users, domains, resellers, policies, list entries) "
       "this many milliseconds; another node's change is then seen up to this late (a node's own "
       "writes at once; API keys never cached). 0 = no cache. For tenant.backend = postgres."},
      {"feedback.backend", T::kString, "sqlite", 0, 0,
       "Feedback store (reports, reporter reliability, sender reputation, corrections, consent): "
       "sqlite (feedback.db in the data directory) or postgres (shared by a fleet: postgres.*, "
       "tables feedback_* in postgres.schema)."},

      // Decision log (mailsiftd). Read at start; changing them needs a restart.
      {"decisions.flush_ms", T::kInt, "20", 0, 10000,
       "Group commit: decisions are queued and committed by a background writer, one transaction "
       "per batch, at most this many milliseconds after they were queued; a crash can lose the "
       "decisions of that window (docs/decision-log.md). 0 = synchronous: every scan waits for "
       "its own durable commit (~4 ms each on a shared disk)."},
      {"decisions.batch_max", T::kInt, "256", 1, 100000,
       "Group commit: most decisions per transaction; a full batch is written at once."},
      {"decisions.queue_max", T::kInt, "4096", 1, 10000000,
       "Group commit: decisions queued but not yet written before a scan waits for the writer "
       "(back-pressure; decisions are never dropped)."},
  };
  return kParams;
}

}  // namespace mailsift
