// LD_PRELOAD interposer that makes chosen file-system calls fail, for the I/O-error tests
// (issue 14: a failed fsync must not be retried on the same file, the batch gets 503, nothing
// acknowledged is lost). Built as the dynamic library libAuditSealFaultInjection.so.
//
//   AUDITSEAL_FAULTS="OP:PATH-FRAGMENT:N:ERRNO[,...]"
//     OP      write | writev | pwrite | fsync | fdatasync | ftruncate | rename
//     PATH    a substring of the file's path (read from /proc/self/fd), or of either rename path
//     N       the Nth matching call fails (once); "N+" makes it and every later one fail
//     ERRNO   EIO | ENOSPC | EDQUOT | EROFS
//   AUDITSEAL_FAULT_LOG=FILE  one line per matching call: "OP PATH INODE ok|ERRNO" (for the tests'
//                             checks; INODE 0 for rename)
//
// Power cuts (issue 14, item 1), in the same library:
//   AUDITSEAL_POWERCUT_ROOT=DIR   the data directory whose durability is modelled
//   AUDITSEAL_POWERCUT_AT=N       before the Nth write, writev, pwrite, fsync, fdatasync, ftruncate,
//                                 rename or unlink under DIR, "cut the power":
//   AUDITSEAL_POWERCUT_IMAGE=DIR  write there what the disk would hold, then _exit(86)
//   AUDITSEAL_POWERCUT_TORN=1     keep a pseudo-random part of each file's unsynced bytes too
//   AUDITSEAL_POWERCUT_ONLY=FRAG  count only calls on paths holding FRAG (e.g. "shipping/")
// The model: a file's bytes are durable up to its length at its last fsync/fdatasync; a directory's
// entries (creations, renames, removals) are durable as they were at its last fsync. Files that
// lose their last name are hard-linked aside first, so their durable bytes stay readable.
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_RULES 16

struct rule {
    char op[16];
    char fragment[256];
    long nth;
    int from_on;
    int error;
    atomic_long seen;
};

static struct rule rules[MAX_RULES];
static int rule_count = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = -1;

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_ftruncate)(int, off_t);
static int (*real_unlink)(const char *);

// Power-cut state.
static char pc_root[512], pc_image[512], pc_shadow[600];
static size_t pc_root_len;
static long pc_at;
static int pc_torn;
static atomic_long pc_count;
static char pc_only[256];
static pthread_mutex_t pc_lock = PTHREAD_MUTEX_INITIALIZER;
#define PC_FILES 16384
static unsigned long pc_ino[PC_FILES];
static off_t pc_len[PC_FILES];
static int pc_files;
struct pc_dir { unsigned long ino; char *listing; };   // "T INO NAME\n" lines, T = d or f
static struct pc_dir pc_dirs[128];
static int pc_dir_count;

static int error_named(const char *name) {
    if (strcmp(name, "ENOSPC") == 0) return ENOSPC;
    if (strcmp(name, "EDQUOT") == 0) return EDQUOT;
    if (strcmp(name, "EROFS") == 0) return EROFS;
    return EIO;
}

static void setup(void) {
    real_write = dlsym(RTLD_NEXT, "write");
    real_writev = dlsym(RTLD_NEXT, "writev");
    real_pwrite = dlsym(RTLD_NEXT, "pwrite");
    real_fsync = dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
    real_rename = dlsym(RTLD_NEXT, "rename");
    real_ftruncate = dlsym(RTLD_NEXT, "ftruncate");
    real_unlink = dlsym(RTLD_NEXT, "unlink");
    const char *root = getenv("AUDITSEAL_POWERCUT_ROOT"), *at = getenv("AUDITSEAL_POWERCUT_AT"), *image = getenv("AUDITSEAL_POWERCUT_IMAGE");
    if (root && at && image) {
        snprintf(pc_root, sizeof pc_root, "%s", root);
        pc_root_len = strlen(pc_root);
        snprintf(pc_image, sizeof pc_image, "%s", image);
        snprintf(pc_shadow, sizeof pc_shadow, "%s.shadow", image);
        mkdir(pc_shadow, 0755);
        pc_at = strtol(at, NULL, 10);
        pc_torn = getenv("AUDITSEAL_POWERCUT_TORN") != NULL;
        const char *only = getenv("AUDITSEAL_POWERCUT_ONLY");
        if (only) snprintf(pc_only, sizeof pc_only, "%s", only);
    }
    rule_count = 0;
    const char *spec = getenv("AUDITSEAL_FAULTS");
    if (spec) {
        char *copy = strdup(spec), *save = NULL;
        for (char *item = strtok_r(copy, ",", &save); item && rule_count < MAX_RULES; item = strtok_r(NULL, ",", &save)) {
            char op[16] = {0}, fragment[256] = {0}, nth[32] = {0}, err[16] = {0};
            if (sscanf(item, "%15[^:]:%255[^:]:%31[^:]:%15s", op, fragment, nth, err) != 4) continue;
            struct rule *r = &rules[rule_count++];
            strcpy(r->op, op);
            strcpy(r->fragment, fragment);
            r->nth = strtol(nth, NULL, 10);
            r->from_on = strchr(nth, '+') != NULL;
            r->error = error_named(err);
            atomic_store(&r->seen, 0);
        }
        free(copy);
    }
    const char *log = getenv("AUDITSEAL_FAULT_LOG");
    if (log) log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static void fd_path(int fd, char *out, size_t size) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, size - 1);
    out[n > 0 ? n : 0] = 0;
}

static void note(const char *op, const char *path, unsigned long inode, int error) {
    if (log_fd < 0) return;
    char line[640];
    int n = snprintf(line, sizeof line, "%s %s %lu %s\n", op, path, inode, error == 0 ? "ok" : (error == ENOSPC ? "ENOSPC" : "EIO"));
    pthread_mutex_lock(&log_lock);
    real_write(log_fd, line, n > (int)sizeof line ? (int)sizeof line : n);
    pthread_mutex_unlock(&log_lock);
}

// The error to fail this call with (0: let it through); matching calls are logged.
static int decide(const char *op, const char *path, const char *other, int fd) {
    pthread_once(&once, setup);
    int matched = 0, error = 0;
    for (int i = 0; i < rule_count; i++) {
        struct rule *r = &rules[i];
        if (strcmp(r->op, op) != 0) continue;
        if (!strstr(path, r->fragment) && !(other && strstr(other, r->fragment))) continue;
        matched = 1;
        long n = atomic_fetch_add(&r->seen, 1) + 1;
        if (n == r->nth || (r->from_on && n >= r->nth)) error = r->error;
    }
    if (matched) {
        struct stat st;
        unsigned long inode = (fd >= 0 && fstat(fd, &st) == 0) ? (unsigned long)st.st_ino : 0;
        note(op, path, inode, error);
    }
    return error;
}

// ---- Power cuts ----

static int pc_under_root(const char *path) {
    return pc_at > 0 && strncmp(path, pc_root, pc_root_len) == 0 && (path[pc_root_len] == 0 || path[pc_root_len] == '/');
}

static off_t pc_synced(unsigned long ino) {
    for (int i = 0; i < pc_files; i++) if (pc_ino[i] == ino) return pc_len[i];
    return 0;
}

static void pc_set_synced(unsigned long ino, off_t len) {
    for (int i = 0; i < pc_files; i++) if (pc_ino[i] == ino) { pc_len[i] = len; return; }
    if (pc_files < PC_FILES) { pc_ino[pc_files] = ino; pc_len[pc_files] = len; pc_files++; }
}

// A directory's fsync: its entries as they are now become the durable ones.
static void pc_snapshot_dir(const char *path, unsigned long ino) {
    DIR *d = opendir(path);
    if (!d) return;
    size_t cap = 4096, used = 0;
    char *listing = malloc(cap);
    listing[0] = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char line[400];
        int n = snprintf(line, sizeof line, "%c %lu %s\n", e->d_type == DT_DIR ? 'd' : 'f', (unsigned long)e->d_ino, e->d_name);
        if (used + n + 1 > cap) { cap = 2 * cap + n; listing = realloc(listing, cap); }
        memcpy(listing + used, line, n + 1);
        used += n;
    }
    closedir(d);
    for (int i = 0; i < pc_dir_count; i++) if (pc_dirs[i].ino == ino) { free(pc_dirs[i].listing); pc_dirs[i].listing = listing; return; }
    if (pc_dir_count < 128) { pc_dirs[pc_dir_count].ino = ino; pc_dirs[pc_dir_count].listing = listing; pc_dir_count++; } else free(listing);
}

// Keeps a file that is about to lose its last name readable (for its durable bytes).
static void pc_shadow_link(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return;
    char aside[700];
    snprintf(aside, sizeof aside, "%s/%lu", pc_shadow, (unsigned long)st.st_ino);
    link(path, aside);
}

static void pc_copy(const char *from, const char *to, off_t length, off_t available) {
    off_t keep = length;
    if (pc_torn && available > length) keep = length + (off_t)((unsigned long)(available - length) * (unsigned long)(pc_at % 97) / 96);
    int in = open(from, O_RDONLY | O_CLOEXEC), out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    char buffer[65536];
    off_t done = 0;
    while (in >= 0 && out >= 0 && done < keep) {
        ssize_t n = read(in, buffer, (size_t)(keep - done) < sizeof buffer ? (size_t)(keep - done) : sizeof buffer);
        if (n <= 0) break;
        real_write(out, buffer, n);
        done += n;
    }
    if (in >= 0) close(in);
    if (out >= 0) close(out);
}

// Rebuilds one directory of the image from its durable entries.
static void pc_build(const char *current, const char *image, unsigned long ino) {
    const char *listing = NULL;
    for (int i = 0; i < pc_dir_count; i++) if (pc_dirs[i].ino == ino) listing = pc_dirs[i].listing;
    if (!listing) return;  // never fsync'd: none of its entries is durable
    const char *line = listing;
    while (*line) {
        char type; unsigned long entry; char name[300];
        const char *end = strchr(line, '\n');
        if (sscanf(line, "%c %lu %299[^\n]", &type, &entry, name) == 3) {
            char src[1200], dst[1200];
            snprintf(src, sizeof src, "%s/%s", current, name);
            snprintf(dst, sizeof dst, "%s/%s", image, name);
            if (type == 'd') {
                mkdir(dst, 0755);
                pc_build(src, dst, entry);
            } else {
                struct stat st;
                if (stat(src, &st) != 0 || st.st_ino != entry) snprintf(src, sizeof src, "%s/%lu", pc_shadow, entry);
                if (stat(src, &st) != 0) {
                    // Renamed since: find it by inode in the same directory.
                    DIR *d = opendir(current);
                    struct dirent *e;
                    while (d && (e = readdir(d))) if ((unsigned long)e->d_ino == entry) { snprintf(src, sizeof src, "%s/%s", current, e->d_name); break; }
                    if (d) closedir(d);
                }
                off_t available = stat(src, &st) == 0 ? st.st_size : 0;
                off_t synced = pc_synced(entry);
                pc_copy(src, dst, synced < available ? synced : available, available);
            }
        }
        if (!end) break;
        line = end + 1;
    }
}

// Counts a durability-relevant call under the root; at the chosen one, writes the image and dies.
static void pc_event(const char *path) {
    if (!pc_under_root(path)) return;
    if (pc_only[0] && !strstr(path, pc_only)) return;
    if (atomic_fetch_add(&pc_count, 1) + 1 != pc_at) return;
    pthread_mutex_lock(&pc_lock);
    mkdir(pc_image, 0755);
    struct stat st;
    if (stat(pc_root, &st) == 0) pc_build(pc_root, pc_image, (unsigned long)st.st_ino);
    _exit(86);
}

// After a successful fsync/fdatasync under the root: a file's length, or a directory's entries, are durable.
static void pc_synced_fd(int fd, const char *path) {
    if (!pc_under_root(path)) return;
    struct stat st;
    if (fstat(fd, &st) != 0) return;
    pthread_mutex_lock(&pc_lock);
    if (S_ISDIR(st.st_mode)) pc_snapshot_dir(path, (unsigned long)st.st_ino);
    else pc_set_synced((unsigned long)st.st_ino, st.st_size);
    pthread_mutex_unlock(&pc_lock);
}

static int watched(int fd, char *path, size_t size) {
    pthread_once(&once, setup);
    if ((rule_count <= 0 && pc_at <= 0) || fd <= 2) return 0;
    fd_path(fd, path, size);
    return path[0] == '/';
}

ssize_t write(int fd, const void *buf, size_t count) {
    char path[512];
    if (watched(fd, path, sizeof path)) {
        pc_event(path);
        int e = decide("write", path, NULL, fd);
        if (e) { errno = e; return -1; }
    }
    return real_write(fd, buf, count);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    char path[512];
    if (watched(fd, path, sizeof path)) {
        pc_event(path);
        int e = decide("writev", path, NULL, fd);
        if (e) { errno = e; return -1; }
    }
    return real_writev(fd, iov, iovcnt);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    char path[512];
    if (watched(fd, path, sizeof path)) {
        pc_event(path);
        int e = decide("pwrite", path, NULL, fd);
        if (e) { errno = e; return -1; }
    }
    return real_pwrite(fd, buf, count, offset);
}

int fsync(int fd) {
    char path[512];
    if (watched(fd, path, sizeof path)) {
        pc_event(path);
        int e = decide("fsync", path, NULL, fd);
        if (e) { errno = e; return -1; }
        int rc = real_fsync(fd);
        if (rc == 0) pc_synced_fd(fd, path);
        return rc;
    }
    return real_fsync(fd);
}

int fdatasync(int fd) {
    char path[512];
    if (watched(fd, path, sizeof path)) {
        pc_event(path);
        int e = decide("fdatasync", path, NULL, fd);
        if (e) { errno = e; return -1; }
        int rc = real_fdatasync(fd);
        if (rc == 0) pc_synced_fd(fd, path);
        return rc;
    }
    return real_fdatasync(fd);
}

int rename(const char *from, const char *to) {
    pthread_once(&once, setup);
    if (pc_at > 0 && pc_under_root(to)) {
        pc_event(to);
        pthread_mutex_lock(&pc_lock);
        pc_shadow_link(to);  // the file it replaces loses its name
        pthread_mutex_unlock(&pc_lock);
    }
    if (rule_count > 0) {
        int e = decide("rename", from, to, -1);
        if (e) { errno = e; return -1; }
    }
    return real_rename(from, to);
}

int unlink(const char *path) {
    pthread_once(&once, setup);
    if (pc_at > 0 && pc_under_root(path)) {
        pc_event(path);
        pthread_mutex_lock(&pc_lock);
        pc_shadow_link(path);
        pthread_mutex_unlock(&pc_lock);
    }
    return real_unlink(path);
}

int ftruncate(int fd, off_t length) {
    char path[512];
    if (watched(fd, path, sizeof path)) {
        pc_event(path);
        int e = decide("ftruncate", path, NULL, fd);
        if (e) { errno = e; return -1; }
    }
    return real_ftruncate(fd, length);
}
