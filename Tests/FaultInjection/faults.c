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
#define _GNU_SOURCE
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

static int watched(int fd, char *path, size_t size) {
    pthread_once(&once, setup);
    if (rule_count <= 0 || fd <= 2) return 0;
    fd_path(fd, path, size);
    return path[0] == '/';
}

ssize_t write(int fd, const void *buf, size_t count) {
    char path[512];
    if (watched(fd, path, sizeof path)) {
        int e = decide("write", path, NULL, fd);
        if (e) { errno = e; return -1; }
    }
    return real_write(fd, buf, count);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    char path[512];
    if (watched(fd, path, sizeof path)) {
        int e = decide("writev", path, NULL, fd);
        if (e) { errno = e; return -1; }
    }
    return real_writev(fd, iov, iovcnt);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    char path[512];
    if (watched(fd, path, sizeof path)) {
        int e = decide("pwrite", path, NULL, fd);
        if (e) { errno = e; return -1; }
    }
    return real_pwrite(fd, buf, count, offset);
}

int fsync(int fd) {
    char path[512];
    if (watched(fd, path, sizeof path)) {
        int e = decide("fsync", path, NULL, fd);
        if (e) { errno = e; return -1; }
    }
    return real_fsync(fd);
}

int fdatasync(int fd) {
    char path[512];
    if (watched(fd, path, sizeof path)) {
        int e = decide("fdatasync", path, NULL, fd);
        if (e) { errno = e; return -1; }
    }
    return real_fdatasync(fd);
}

int rename(const char *from, const char *to) {
    pthread_once(&once, setup);
    if (rule_count > 0) {
        int e = decide("rename", from, to, -1);
        if (e) { errno = e; return -1; }
    }
    return real_rename(from, to);
}

int ftruncate(int fd, off_t length) {
    char path[512];
    if (watched(fd, path, sizeof path)) {
        int e = decide("ftruncate", path, NULL, fd);
        if (e) { errno = e; return -1; }
    }
    return real_ftruncate(fd, length);
}
