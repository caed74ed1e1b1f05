// libpq, loaded on first use: the libpq entry points the fleet code calls, defined here and
// forwarded to libpq.so.5 opened with dlopen(3) the first time one is called.
//
// Why: libpq pulls ~20 shared libraries into a process (Kerberos, LDAP, GnuTLS, p11-kit, ...).
// Loading and relocating them at every start was ~9 M instructions and ~30 % of the dynamic
// loader's work for every `mailsift` run, including the ones that never talk to PostgreSQL
// (all but fleet set-ups). Only the CLI links this file (src/cli/CMakeLists.txt, with
// -Wl,--as-needed so libpq.so.5 is then not a NEEDED entry); mailsiftd and the tests link libpq
// directly. The executable does not export these names, so libpq's own calls never land here.
//
// Failure semantics: if libpq.so.5 (Debian package libpq5) cannot be opened or lacks a symbol,
// PQconnectStart returns NULL (pg_conn.cc reports it as a temporary error), and every other
// entry point behaves as libpq does for a NULL connection or result. The reason is kept for
// PQerrorMessage(NULL).
#include <dlfcn.h>
#include <libpq-fe.h>

#include <string>

namespace {

#define MAILSIFT_PQ_FUNCTIONS(X) \
  X(PQclear)                     \
  X(PQcmdTuples)                 \
  X(PQconnectPoll)               \
  X(PQconnectStart)              \
  X(PQconsumeInput)              \
  X(PQerrorMessage)              \
  X(PQescapeIdentifier)          \
  X(PQfinish)                    \
  X(PQflush)                     \
  X(PQfreemem)                   \
  X(PQgetResult)                 \
  X(PQgetisnull)                 \
  X(PQgetvalue)                  \
  X(PQisBusy)                    \
  X(PQntuples)                   \
  X(PQresultErrorField)          \
  X(PQresultErrorMessage)        \
  X(PQresultStatus)              \
  X(PQsendQuery)                 \
  X(PQsendQueryParams)           \
  X(PQsetnonblocking)            \
  X(PQsocket)                    \
  X(PQstatus)

struct Api {
#define MAILSIFT_PQ_MEMBER(name) decltype(&::name) name = nullptr;
  MAILSIFT_PQ_FUNCTIONS(MAILSIFT_PQ_MEMBER)
#undef MAILSIFT_PQ_MEMBER
};

std::string& load_error() {
  static std::string why;
  return why;
}

// nullptr when libpq cannot be used; loaded once (thread-safe static initialisation).
const Api* api() {
  static const Api* const loaded = []() -> const Api* {
    // RTLD_LOCAL: libpq's symbols stay out of the global scope, so they never meet ours.
    void* lib = ::dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* e = ::dlerror();
      load_error() = std::string("cannot load libpq.so.5: ") + (e ? e : "unknown error") + "\n";
      return nullptr;
    }
    static Api a;
#define MAILSIFT_PQ_RESOLVE(name)                                    \
  a.name = reinterpret_cast<decltype(&::name)>(::dlsym(lib, #name)); \
  if (a.name == nullptr) {                                           \
    load_error() = "libpq.so.5 has no " #name "\n";                  \
    return nullptr;                                                  \
  }
    MAILSIFT_PQ_FUNCTIONS(MAILSIFT_PQ_RESOLVE)
#undef MAILSIFT_PQ_RESOLVE
    return &a;
  }();
  return loaded;
}

char* empty() {
  static char nothing[1] = "";
  return nothing;
}

}  // namespace

// Definitions of the declarations in libpq-fe.h (the compiler checks that they agree).
extern "C" {

PGconn* PQconnectStart(const char* conninfo) {
  const Api* a = api();
  return a ? a->PQconnectStart(conninfo) : nullptr;
}

// Every call below takes a connection or result, which only a loaded libpq hands out; the
// fallbacks are libpq's own answers for NULL.
PostgresPollingStatusType PQconnectPoll(PGconn* conn) {
  const Api* a = api();
  return a ? a->PQconnectPoll(conn) : PGRES_POLLING_FAILED;
}
ConnStatusType PQstatus(const PGconn* conn) {
  const Api* a = api();
  return a ? a->PQstatus(conn) : CONNECTION_BAD;
}
char* PQerrorMessage(const PGconn* conn) {
  const Api* a = api();
  return a ? a->PQerrorMessage(conn) : load_error().data();
}
void PQfinish(PGconn* conn) {
  if (const Api* a = api())
    a->PQfinish(conn);
}
int PQsocket(const PGconn* conn) {
  const Api* a = api();
  return a ? a->PQsocket(conn) : -1;
}
int PQsetnonblocking(PGconn* conn, int arg) {
  const Api* a = api();
  return a ? a->PQsetnonblocking(conn, arg) : -1;
}
int PQflush(PGconn* conn) {
  const Api* a = api();
  return a ? a->PQflush(conn) : -1;
}
int PQconsumeInput(PGconn* conn) {
  const Api* a = api();
  return a ? a->PQconsumeInput(conn) : 0;
}
int PQisBusy(PGconn* conn) {
  const Api* a = api();
  return a ? a->PQisBusy(conn) : 0;
}
int PQsendQuery(PGconn* conn, const char* query) {
  const Api* a = api();
  return a ? a->PQsendQuery(conn, query) : 0;
}
int PQsendQueryParams(PGconn* conn, const char* command, int nParams, const Oid* paramTypes,
                      const char* const* paramValues, const int* paramLengths,
                      const int* paramFormats, int resultFormat) {
  const Api* a = api();
  return a ? a->PQsendQueryParams(conn, command, nParams, paramTypes, paramValues, paramLengths,
                                  paramFormats, resultFormat)
           : 0;
}
PGresult* PQgetResult(PGconn* conn) {
  const Api* a = api();
  return a ? a->PQgetResult(conn) : nullptr;
}
char* PQescapeIdentifier(PGconn* conn, const char* str, size_t len) {
  const Api* a = api();
  return a ? a->PQescapeIdentifier(conn, str, len) : nullptr;
}
void PQfreemem(void* ptr) {
  if (const Api* a = api())
    a->PQfreemem(ptr);
}
void PQclear(PGresult* res) {
  if (const Api* a = api())
    a->PQclear(res);
}
ExecStatusType PQresultStatus(const PGresult* res) {
  const Api* a = api();
  return a ? a->PQresultStatus(res) : PGRES_FATAL_ERROR;
}
char* PQresultErrorMessage(const PGresult* res) {
  const Api* a = api();
  return a ? a->PQresultErrorMessage(res) : empty();
}
char* PQresultErrorField(const PGresult* res, int fieldcode) {
  const Api* a = api();
  return a ? a->PQresultErrorField(res, fieldcode) : nullptr;
}
int PQntuples(const PGresult* res) {
  const Api* a = api();
  return a ? a->PQntuples(res) : 0;
}
char* PQgetvalue(const PGresult* res, int tup_num, int field_num) {
  const Api* a = api();
  return a ? a->PQgetvalue(res, tup_num, field_num) : nullptr;
}
int PQgetisnull(const PGresult* res, int tup_num, int field_num) {
  const Api* a = api();
  return a ? a->PQgetisnull(res, tup_num, field_num) : 1;
}
char* PQcmdTuples(PGresult* res) {
  const Api* a = api();
  return a ? a->PQcmdTuples(res) : empty();
}

}  // extern "C"
