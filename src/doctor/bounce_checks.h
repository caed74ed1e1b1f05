// mailsift::doctor bounce checks — run the live DNS checks a bounce's advice names.
//
// Owns: turning bounce::Advice::checks into bounce::Advice::live results with the domain doctor.
// "spf:D", "dkim:D", "dmarc:D" (the sender's domain of an SPF/DKIM/DMARC failure) run diagnose()
// on D once per report, against the cluster D's MX points at (or `cluster`), and keep the findings
// of the records the bounce blamed ("spf", "dkim:<selector>", "dmarc"), plus "cluster" when the
// cluster could not be decided (then SPF and DKIM cannot be checked: they need the cluster's
// outbound IPs and signing keys; DMARC still is). "ptr:IP" runs iprev (PTR, then the PTR name's
// A/AAAA must list IP). "dnsbl:NAME" is not run here: the listed IP is the provider's, and the
// outbound IP monitor (`mailsift ip`, docs/outbound.md) keeps its listings.
//
// Failure semantics: never fails; DNS trouble is a "temperror" result, never a pass. A domain
// that is not a domain name (e.g. "<sender domain>" when the bounce had no original sender) gives
// the doctor's "domain" fail finding. Checks of one report are grouped: one diagnose() per domain.
#pragma once

#include <string>

#include "bounce/bounce.h"
#include "dns/resolver.h"
#include "doctor/clusters.h"

namespace mailsift::doctor {

// Fills r.advice.live for every recipient whose advice names checks. `clusters` may be empty
// (no clusters file): SPF/DKIM then report why they cannot be checked.
void run_bounce_checks(bounce::Report& report, dns::Resolver& resolver, const Clusters& clusters,
                       const std::string& cluster = {});

}  // namespace mailsift::doctor
