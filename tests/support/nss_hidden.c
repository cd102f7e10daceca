/* An NSS module for the tests, loaded by nss_wrapper (NSS_WRAPPER_MODULE_SO_PATH, prefix
 * "lwauthhidden"): it resolves the users of the passwd-format file named by
 * LWAUTH_TEST_HIDDEN_PASSWD by name and by UID, and enumerates none of them, as sssd does
 * with enumerate = false (the default). Groups it leaves to nss_wrapper's files. */
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* Copies `from` into the caller's buffer, as NSS modules must. */
static enum nss_status copy_entry(const struct passwd* from, struct passwd* to, char* buffer,
                                  size_t size, int* errnop) {
    const char* fields[] = {from->pw_name, from->pw_passwd, from->pw_gecos, from->pw_dir,
                            from->pw_shell};
    char** targets[] = {&to->pw_name, &to->pw_passwd, &to->pw_gecos, &to->pw_dir, &to->pw_shell};
    size_t used = 0;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; ++i) {
        size_t length = strlen(fields[i]) + 1;
        if (used + length > size) {
            *errnop = ERANGE;
            return NSS_STATUS_TRYAGAIN;
        }
        memcpy(buffer + used, fields[i], length);
        *targets[i] = buffer + used;
        used += length;
    }
    to->pw_uid = from->pw_uid;
    to->pw_gid = from->pw_gid;
    return NSS_STATUS_SUCCESS;
}

/* The entry of the file that `matches`, copied; NOTFOUND when there is none. */
static enum nss_status find(int (*matches)(const struct passwd*, const void*), const void* key,
                            struct passwd* result, char* buffer, size_t size, int* errnop) {
    const char* path = getenv("LWAUTH_TEST_HIDDEN_PASSWD");
    FILE* file = path != NULL ? fopen(path, "re") : NULL;
    if (file == NULL) {
        return NSS_STATUS_NOTFOUND;
    }
    enum nss_status status = NSS_STATUS_NOTFOUND;
    struct passwd* entry;
    while ((entry = fgetpwent(file)) != NULL) {
        if (matches(entry, key)) {
            status = copy_entry(entry, result, buffer, size, errnop);
            break;
        }
    }
    fclose(file);
    return status;
}

static int name_matches(const struct passwd* entry, const void* name) {
    return strcmp(entry->pw_name, (const char*)name) == 0;
}

static int uid_matches(const struct passwd* entry, const void* uid) {
    return entry->pw_uid == *(const uid_t*)uid;
}

enum nss_status _nss_lwauthhidden_getpwnam_r(const char* name, struct passwd* result, char* buffer,
                                             size_t size, int* errnop) {
    return find(name_matches, name, result, buffer, size, errnop);
}

enum nss_status _nss_lwauthhidden_getpwuid_r(uid_t uid, struct passwd* result, char* buffer,
                                             size_t size, int* errnop) {
    return find(uid_matches, &uid, result, buffer, size, errnop);
}

enum nss_status _nss_lwauthhidden_setpwent(void) {
    return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_lwauthhidden_getpwent_r(struct passwd* result, char* buffer, size_t size,
                                             int* errnop) {
    (void)result;
    (void)buffer;
    (void)size;
    (void)errnop;
    return NSS_STATUS_NOTFOUND; /* enumerates nobody */
}

enum nss_status _nss_lwauthhidden_endpwent(void) {
    return NSS_STATUS_SUCCESS;
}
