/*
 * What `replay` needs below JavaScript, on Linux; no npm package offers either, hence this small addon.
 *
 * A PF_PACKET socket that sends many frames per system call (sendmmsg). libpcap (the `cap` binding) sends one
 * frame per pcap_sendpacket call; at top speed the per-call cost around it keeps a replay below tcpreplay's rate.
 *   open(ifname) -> fd                      throws with the errno text when the socket cannot be made or bound
 *   send(fd, arena, offsets, lengths, from, to) -> n > 0 frames sent from `from`, or -errno (nothing sent)
 *   close(fd)
 * The frames are `lengths[i]` bytes at `arena + offsets[i]`, for from <= i < to. Nothing is allocated per call.
 *
 * A busy wait on CLOCK_MONOTONIC: spinFor(ms). Node 20's performance.now() allocates a number on every call, so a
 * JavaScript spin loop fills the young generation and its scavenges (~0.3 ms each) make paced packets late.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <node_api.h>

#define MAX_BATCH 1024

static struct mmsghdr messages[MAX_BATCH];
static struct iovec vectors[MAX_BATCH];

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char text[256];
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, text);
  return NULL;
}

static napi_value make_int(napi_env env, int64_t value) {
  napi_value out;
  napi_create_int64(env, value, &out);
  return out;
}

static napi_value open_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[IF_NAMESIZE + 1];
  size_t length = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &length) != napi_ok) {
    napi_throw_type_error(env, NULL, "open(ifname): ifname must be a string");
    return NULL;
  }
  unsigned index = if_nametoindex(name);
  if (index == 0) return throw_errno(env, "if_nametoindex", errno);
  /* Protocol 0: the socket receives nothing, so a busy interface costs us no copies. */
  int fd = socket(AF_PACKET, SOCK_RAW, 0);
  if (fd < 0) return throw_errno(env, "socket(AF_PACKET)", errno);
  struct sockaddr_ll address;
  memset(&address, 0, sizeof address);
  address.sll_family = AF_PACKET;
  address.sll_ifindex = (int)index;
  if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind", err);
  }
  return make_int(env, fd);
}

static int get_typed(napi_env env, napi_value value, void **data, size_t *bytes) {
  napi_typedarray_type type;
  size_t length, offset;
  napi_value buffer;
  if (napi_get_typedarray_info(env, value, &type, &length, data, &buffer, &offset) != napi_ok) return 0;
  *bytes = type == napi_uint32_array ? length * 4 : length;
  return type == napi_uint8_array || type == napi_uint32_array;
}

static napi_value send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1, from = 0, to = 0;
  uint8_t *arena;
  uint32_t *offsets, *lengths;
  size_t arena_bytes, offsets_bytes, lengths_bytes;
  if (argc < 6 || napi_get_value_int32(env, argv[0], &fd) != napi_ok
      || !get_typed(env, argv[1], (void **)&arena, &arena_bytes)
      || !get_typed(env, argv[2], (void **)&offsets, &offsets_bytes)
      || !get_typed(env, argv[3], (void **)&lengths, &lengths_bytes)
      || napi_get_value_int32(env, argv[4], &from) != napi_ok
      || napi_get_value_int32(env, argv[5], &to) != napi_ok) {
    napi_throw_type_error(env, NULL, "send(fd, arena, offsets, lengths, from, to): bad arguments");
    return NULL;
  }
  if (from < 0 || to < from || to - from > MAX_BATCH
      || (size_t)to * 4 > offsets_bytes || (size_t)to * 4 > lengths_bytes) {
    napi_throw_range_error(env, NULL, "send: frame range out of bounds");
    return NULL;
  }
  int count = to - from;
  for (int i = 0; i < count; i++) {
    uint32_t offset = offsets[from + i], length = lengths[from + i];
    if ((size_t)offset + length > arena_bytes) {
      napi_throw_range_error(env, NULL, "send: frame outside the arena");
      return NULL;
    }
    vectors[i].iov_base = arena + offset;
    vectors[i].iov_len = length;
    memset(&messages[i].msg_hdr, 0, sizeof messages[i].msg_hdr);
    messages[i].msg_hdr.msg_iov = &vectors[i];
    messages[i].msg_hdr.msg_iovlen = 1;
  }
  int sent;
  do {
    sent = sendmmsg(fd, messages, (unsigned)count, 0);
  } while (sent < 0 && errno == EINTR);
  return make_int(env, sent < 0 ? -errno : sent);
}

static napi_value close_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &fd) == napi_ok && fd >= 0) close(fd);
  return NULL;
}

static double monotonic_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

static napi_value spin_for(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  double ms = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_double(env, argv[0], &ms) != napi_ok) {
    napi_throw_type_error(env, NULL, "spinFor(ms): ms must be a number");
    return NULL;
  }
  double until = monotonic_ms() + ms;
  while (monotonic_ms() < until) {
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor methods[] = {
    {"open", NULL, open_socket, NULL, NULL, NULL, napi_default, NULL},
    {"send", NULL, send_batch, NULL, NULL, NULL, napi_default, NULL},
    {"close", NULL, close_socket, NULL, NULL, NULL, napi_default, NULL},
    {"spinFor", NULL, spin_for, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, 4, methods);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
