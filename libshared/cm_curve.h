/* The bus's keys (ZeroMQ CURVE, docs/bus.md "Who may speak"): key pairs and
 * their files, the broker's registry of admitted public keys, and the
 * process's own bus identity, which every bus socket made by cm_mdp and
 * cm_events puts on before it connects.
 *
 * Key file (mode 0600, in a 0700 directory), lines of "<word> <Z85 key>":
 *     # comment
 *     public <40 Z85 characters>
 *     secret <40 Z85 characters>      (absent in broker.pub)
 *     broker <40 Z85 characters>      (optional: the broker's public key, as
 *                                      crmctl bus-keys new-system prints it;
 *                                      ignored here)
 * Registry, one admitted key a line ('#' comments, blank lines):
 *     <public-z85> <name> <kind> [<tenant> <scope,scope,...>]
 * kind is service, gateway, crmctl or system; a system key names its tenant
 * and its scopes, the others nothing more. Names and keys are unique. */
#ifndef CM_CURVE_H
#define CM_CURVE_H

#include <stdbool.h>
#include <stddef.h>
#include "cm_cfg.h"
#include "cm_err.h"

/* A key in Z85: 40 characters (32 bytes). */
#define CM_CURVE_KEY_LEN 40
/* Longest key name (a-z 0-9 . _ -, starting with a letter or digit). */
#define CM_CURVE_NAME_MAX 64
/* Longest tenant id of a system key; most scopes and longest scope. */
#define CM_CURVE_TENANT_MAX 64
#define CM_CURVE_SCOPES_MAX 32
#define CM_CURVE_SCOPE_MAX 32
/* Longest registry line and most lines; a larger registry is refused. */
#define CM_CURVE_LINE_MAX 2048
#define CM_CURVE_ENTRIES_MAX 100000
/* Largest key or registry file read. */
#define CM_CURVE_FILE_MAX (CM_CURVE_LINE_MAX * (size_t)CM_CURVE_ENTRIES_MAX)

struct cm_curve_pair {
    char public_key[CM_CURVE_KEY_LEN + 1];
    char secret_key[CM_CURVE_KEY_LEN + 1]; // empty when only the public half is known
};

/* Makes a new key pair. Returns 0, or -1 when libzmq has no CURVE. */
int cm_curve_pair_new(struct cm_curve_pair *out) CM_MUSTCHECK;

/* True when s is 40 Z85 characters that decode to a key. */
bool cm_curve_key_ok(const char *s);

/* True when the first len bytes of s are a valid key name. */
bool cm_curve_name_ok(const char *s, size_t len);

/* Reads a key file. With need_secret the secret half must be there and match
 * the public one, and the file must be readable by its owner only. Returns 0,
 * or -1 with the reason (naming the file) in err. */
int cm_curve_file_read(const char *path, bool need_secret, struct cm_curve_pair *out, char *err,
                       size_t errsz) CM_MUSTCHECK;

/* The text of a key file for `name` (with the secret half when with_secret).
 * Returns a new string, the caller's to free. */
char *cm_curve_file_text(const char *name, const struct cm_curve_pair *pair, bool with_secret);

/* Writes a key file, mode 0600, never over an existing one. Returns 0, or -1
 * with the reason in err (errno EEXIST when the file was there). */
int cm_curve_file_write(const char *path, const char *name, const struct cm_curve_pair *pair,
                        bool with_secret, char *err, size_t errsz) CM_MUSTCHECK;

/* ---------------------------------------------------------------------- */
/* Registry                                                                 */

enum cm_curve_kind {
    CM_CURVE_SERVICE = 1, // one of the suite's services; name = the service it serves
    CM_CURVE_GATEWAY,     // speaks for signed-in people and API keys
    CM_CURVE_CRMCTL,      // the operator's tool: may speak as anyone
    CM_CURVE_SYSTEM,      // an outside system: one tenant, its scopes
};

struct cm_curve_entry {
    char public_key[CM_CURVE_KEY_LEN + 1];
    char *name; // owned
    enum cm_curve_kind kind;
    char *tenant;  // owned; "" unless system
    char **scopes; // owned
    size_t n_scopes;
};

typedef struct cm_curve_registry cm_curve_registry_t;

/* Parses a registry's text. Returns a new registry, or NULL with the line
 * number and problem in err. */
cm_curve_registry_t *cm_curve_registry_parse(const char *text, size_t len, char *err, size_t errsz);

/* Reads and parses a registry file. Returns NULL with the reason in err. */
cm_curve_registry_t *cm_curve_registry_load(const char *path, char *err, size_t errsz);

/* Look-ups, O(1); the entry is borrowed from the registry. NULL if unknown. */
const struct cm_curve_entry *cm_curve_registry_by_key(const cm_curve_registry_t *self,
                                                      const char *public_z85);
const struct cm_curve_entry *cm_curve_registry_by_name(const cm_curve_registry_t *self,
                                                       const char *name);
size_t cm_curve_registry_count(const cm_curve_registry_t *self);
/* The i-th entry in file order (i < count); borrowed. */
const struct cm_curve_entry *cm_curve_registry_entry(const cm_curve_registry_t *self, size_t i);
void cm_curve_registry_destroy(cm_curve_registry_t **self_p);

/* "service", "gateway", ...; the kind of a name or 0. */
const char *cm_curve_kind_name(enum cm_curve_kind kind);
enum cm_curve_kind cm_curve_kind_parse(const char *s);

/* The registry line of an entry, newline included; the caller frees it. */
char *cm_curve_registry_line(const struct cm_curve_entry *e);

/* ---------------------------------------------------------------------- */
/* The process's bus identity                                               */

/* The bus settings every program has (CRM_BUS_CURVE, CRM_BUS_KEYS_DIR,
 * CRM_BUS_KEY_FILE, CRM_BUS_SERVER_KEY_FILE, CRM_BUS_REGISTRY): a cm_cfg table
 * for program `name`, terminated by a NULL key, owned by this module.
 * cm_cfg_main loads and prints it; crmctl loads it itself. */
const struct cm_cfg_item *cm_curve_cfg_items(void);

/* Fills the paths left empty from the keys directory and `name` (the key
 * file <dir>/<name>.key, the broker's public key <dir>/broker.pub, the
 * registry <dir>/registry). Call after loading the table. */
void cm_curve_cfg_resolve(const char *name);

/* Loads the identity the settings name: the process's key pair and the
 * broker's public key (the broker: its own pair). With bus_curve off it does
 * nothing. Returns 0, or -1 with the reason in err. */
int cm_curve_start(const char *name, char *err, size_t errsz) CM_MUSTCHECK;

/* The loaded key pair, or NULL when the bus runs without CURVE. */
const struct cm_curve_pair *cm_curve_identity(void);
/* The registry path (bus_registry) and the keys directory. */
const char *cm_curve_registry_path(void);
const char *cm_curve_keys_dir(void);

/* Makes a socket about to connect a CURVE client of the broker with the
 * process's identity; does nothing without one. Returns 0 or -1 (errno). */
int cm_curve_client_apply(void *sock) CM_MUSTCHECK;

#endif
