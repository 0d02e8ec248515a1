/*
 * A QEMU TCG plugin that counts the guest's executed instructions: when QEMU translates a block
 * of guest code, the plugin asks for an inline addition of the block's instruction count to one
 * counter each time the block runs; at exit it prints "instructions N" (QEMU's -d plugin log).
 * Built by src/library/emulator.ts with the host's cc, loaded with -plugin (the library-cores
 * bench). Debian ships no qemu-plugin.h, so the few declarations of QEMU's plugin API used here
 * are written out from its documentation (docs/devel/tcg-plugins.rst, API version 1, QEMU 7.2).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t, void *), void *userdata);
void qemu_plugin_outs(const char *string);

/* the API version this plugin was written against; QEMU refuses a plugin without it */
__attribute__((visibility("default"))) int qemu_plugin_version = 1;

static uint64_t instructions; /* one vCPU: no atomics needed */

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &instructions, qemu_plugin_tb_n_insns(tb));
}

static void on_exit(qemu_plugin_id_t id, void *user) {
    (void)id;
    (void)user;
    char line[48];
    snprintf(line, sizeof line, "instructions %llu\n", (unsigned long long)instructions);
    qemu_plugin_outs(line);
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const struct qemu_info_t *info, int argc,
                                                               char **argv) {
    (void)info;
    (void)argc;
    (void)argv;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
