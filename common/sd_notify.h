// Tells the service manager (systemd) about the daemon's state through the sd_notify protocol.
//
// Each function sends one datagram to $NOTIFY_SOCKET through libsystemd's sd_notify():
//   NotifyReady()      "READY=1"            the mount is up (Type=notify units start here)
//   NotifyStatus(s)    "STATUS=<s>"         one line shown by `systemctl status`
//   NotifyStopping()   "STOPPING=1"         shutdown began (uploads are being finished)
//   NotifyReloading()  "RELOADING=1\nMONOTONIC_USEC=<now>"  a reload began (SIGHUP); send
//                      NotifyReady() again when it is done
// When NOTIFY_SOCKET is unset (not started by systemd, or Type= is not notify) every function does
// nothing and returns OK. The variable is left in the environment, so every later call still works.
// NotifyStatus replaces control characters (newlines included) with spaces, so a status text can
// never add other assignments to the message. Status texts must not contain secrets: they are
// readable by any user through `systemctl status`.
//
// Threading: safe to call from any thread (each call is one independent sendmsg). Not
// async-signal-safe: do not call from a signal handler.
// Errors: kIoError when the socket is set but the message could not be sent (the daemon should log
// it and go on: a lost notification must not stop a mount).
#pragma once

#include <string>

#include "common/status.h"

namespace spacesfs {

Status NotifyReady();
Status NotifyStatus(const std::string& status);
Status NotifyStopping();
Status NotifyReloading();

}  // namespace spacesfs
