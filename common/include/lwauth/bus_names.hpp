// The D-Bus contract between pam_lwauth.so, lwauthctl and lwauthd.
//
// Every name that crosses the bus lives here, so the three programs cannot drift apart.
// packaging/dbus/org.lwauth.Auth1.xml documents each method and error in one line, and
// packaging/dbus/org.lwauth.Auth1.conf allows each method by name.
#pragma once

namespace lwauth::bus {

inline constexpr const char* kServiceName = "org.lwauth.Auth1";
inline constexpr const char* kObjectPath = "/org/lwauth/Auth1";
// lwauthd's private socket for root's logins: the Login interface alone, peer to peer
// with no bus broker (lwauthd --login-socket, pam_lwauth socket=).
inline constexpr const char* kLoginSocketPath = "/run/lwauth/login.socket";

// ---- org.lwauth.Auth1.Login: callers with effective UID 0 only ------------------------
//
// A login is a conversation of steps. Every step has the signature kStepSignature:
//   s     id        the login's handle, passed back to Answer/Cancel
//   a(ss) messages  lines to show before the prompt: ("info"|"error", text)
//   s     prompt    the prompt to show; empty when the step carries a verdict
//   b     echo      whether the answer may be echoed
//   s     verdict   "" while the conversation goes on, else one of kVerdict*
// A step asks (id and prompt set, no verdict) or decides (verdict set, no prompt, no id but
// for a mode=second_factor success or ignore to root: the handle of a full login that
// waits for Confirm). bus_codec.hpp writes and reads it.
inline constexpr const char* kLoginInterface = "org.lwauth.Auth1.Login";
inline constexpr const char* kLoginStart = "Start";    // (a{sv} context) -> step
inline constexpr const char* kLoginAnswer = "Answer";  // (s id, s answer) -> step
inline constexpr const char* kLoginCancel = "Cancel";  // (s id) -> ()
// (s id) -> (): the whole PAM stack let the user in (pam_setcred); lwauthd records the
// full login of a success's or ignore's handle. NoSuchLogin: unknown, expired, another's.
inline constexpr const char* kLoginConfirm = "Confirm";
inline constexpr const char* kStepSignature = "sa(ss)sbs";

// Keys of the Start context ("s" unless said otherwise).
inline constexpr const char* kContextUser = "user";
inline constexpr const char* kContextService = "service";
inline constexpr const char* kContextRhost = "rhost";
inline constexpr const char* kContextTty = "tty";
inline constexpr const char* kContextMode = "mode";  // kModePrimary | kModeSecondFactor
// "t": how long the caller waits for each reply of the login, in microseconds (the
// module's timeout=). lwauthd answers every call of the login before that, with the
// verdict kVerdictUnavailable when a gateway has not answered by then.
inline constexpr const char* kContextReplyTimeout = "reply_timeout_usec";
// "b": the logind session of the PAM process is remote (sd_session_is_remote); false
// when the process has no session or logind cannot say.
inline constexpr const char* kContextSessionRemote = "session_remote";
// The PAM session's locale (LC_ALL, else LC_MESSAGES, else LANG, as pam_getenv or the
// process environment has it; "" when none is set): the language of the login's lines.
inline constexpr const char* kContextLocale = "locale";
// pam_lwauth's timeout= when none is given, in seconds.
inline constexpr int kModuleDefaultTimeoutSeconds = 30;

inline constexpr const char* kModePrimary = "primary";
inline constexpr const char* kModeSecondFactor = "second_factor";

inline constexpr const char* kMessageInfo = "info";
inline constexpr const char* kMessageError = "error";

inline constexpr const char* kVerdictContinue = "";
inline constexpr const char* kVerdictSuccess = "success";
inline constexpr const char* kVerdictDenied = "denied";
inline constexpr const char* kVerdictMaxTries = "maxtries";
inline constexpr const char* kVerdictIgnore = "ignore";
inline constexpr const char* kVerdictUnavailable = "unavailable";

// ---- org.lwauth.Auth1.Account: any local user, on their own account ------------------
//
// The account is always the caller's, taken from the EUID that the bus recorded for the
// connection; no method takes a user name.
inline constexpr const char* kAccountInterface = "org.lwauth.Auth1.Account";
inline constexpr const char* kAccountStatus = "Status";                        // () -> a{sv}
inline constexpr const char* kAccountAddContact = "AddContact";                // (s kind, s value)
inline constexpr const char* kAccountUseProfileContact = "UseProfileContact";  // (s kind)
inline constexpr const char* kAccountConfirmContact = "ConfirmContact";  // (s kind, s code) -> b
inline constexpr const char* kAccountRemoveContact = "RemoveContact";    // (s kind)
inline constexpr const char* kAccountSetTwoStep = "SetTwoStep";          // (b enabled)
// The step-up: StartReauth() -> (s shown, as accepts): where a code was sent (masked; ""
// when none was), and what Reauth(s code) accepts, kReauthAccepts* in the order of
// [policy] second_factors.
inline constexpr const char* kAccountStartReauth = "StartReauth";  // () -> s shown, as accepts
inline constexpr const char* kAccountReauth = "Reauth";            // (s code)
inline constexpr const char* kReauthAcceptsCode = "code";          // the code sent
inline constexpr const char* kReauthAcceptsTotp = "totp";          // the app's current code
inline constexpr const char* kReauthAcceptsRecovery = "recovery";  // a recovery code
// No code was sent, since the app (or recovery codes ranked before the code) answers;
// StartReauth once more on the same connection sends one. An older client ignores it.
inline constexpr const char* kReauthAcceptsSend = "send";
inline constexpr const char* kAccountForget = "Forget";                  // () -> u forgotten
// Linking LINE: LinkLine() -> (s url, u number, t expires_at): the short link to open on
// the phone, the number (10-99) to pick on its page, and when the link expires (epoch
// seconds); then LineLinkStatus() -> (s state, s why), one of kLineLink*, polled by the
// same connection; UnlinkLine() -> b was_linked.
inline constexpr const char* kAccountLinkLine = "LinkLine";              // () -> s, u, t
inline constexpr const char* kAccountLineLinkStatus = "LineLinkStatus";  // () -> s state, s why
inline constexpr const char* kAccountUnlinkLine = "UnlinkLine";          // () -> b was_linked
// The quick-login PIN: SetPin within 10 minutes of a full login on this host or after
// the step-up (StartReauth, Reauth); RemovePin() -> b removed (whether one was set).
inline constexpr const char* kAccountSetPin = "SetPin";                  // (s pin)
inline constexpr const char* kAccountRemovePin = "RemovePin";            // () -> b removed
// Authenticator apps: AddTotp() -> (s uri, t expires_at), the otpauth:// URI of a new secret
// that waits for its first code, ConfirmTotp(s code); RemoveTotp() -> b removed (the
// step-up first). GenerateRecoveryCodes() -> as codes: a new set, shown once (the step-up
// first).
inline constexpr const char* kAccountAddTotp = "AddTotp";
inline constexpr const char* kAccountConfirmTotp = "ConfirmTotp";
inline constexpr const char* kAccountRemoveTotp = "RemoveTotp";
inline constexpr const char* kAccountGenerateRecoveryCodes = "GenerateRecoveryCodes";

// LineLinkStatus's states: nothing started (or the outcome was told already), waiting for
// the approval in LINE, and the outcomes, each told once.
inline constexpr const char* kLineLinkNone = "none";
inline constexpr const char* kLineLinkWaiting = "waiting";
inline constexpr const char* kLineLinkLinked = "linked";
inline constexpr const char* kLineLinkRefused = "refused";
inline constexpr const char* kLineLinkExpired = "expired";
inline constexpr const char* kLineLinkFailed = "failed";

inline constexpr const char* kContactPhone = "phone";
inline constexpr const char* kContactEmail = "email";

// The a{sv} of Account.Status, Admin.ShowUser and each element of Admin.ListUsers:
//   user s, two_step b (in effect), two_step_policy s, contacts_policy s, admin_contact s,
//   methods as (two_step, login_with_phone, login_with_line, quick_login (the PIN),
//   totp: what the policy offers), phone s / email s (masked login contacts), phone_source s /
//   email_source s (self | profile | admin), pending_phone s / pending_email s (masked,
//   awaiting a code), profile_phone s / profile_email s (masked), line_linked b,
//   pin_set b, pin_until t (with a PIN: the end of quick login, [quick_login] lifetime
//   after the last full login or the setting of the PIN, also when past), pin_disabled b
//   (sent true only: too many wrong PINs, disabled until the next full login),
//   locked_until t (epoch seconds, 0 when not locked), remembered_hosts
//   a(sst) (service, origin: the remote host or "local:TTY", until: epoch seconds; the
//   places [policy] remember_host asks no code at, while it lasts), enroll_grace_until t
//   (with no login contact and 2-step in effect: the end of the [policy] enroll_grace
//   once started, also when past), totp_set b (sent true only: an authenticator app is
//   set up), recovery_codes t (sent when not 0: recovery codes left).
// user, two_step, two_step_policy, contacts_policy, methods, line_linked, pin_set and
// locked_until are always sent; other keys whose value is absent are left out, and a
// reader skips keys it does not know. bus_codec.hpp writes and reads it (bus::Status).

// ---- org.lwauth.Auth1.Admin: UID 0 or members of the policy's admin group ---------------
//
// SetContact, RemoveContact, Unlock and Reset of root (any UID 0 name) or of a member of
// the admin group are for UID 0 alone.
inline constexpr const char* kAdminInterface = "org.lwauth.Auth1.Admin";
inline constexpr const char* kAdminListUsers = "ListUsers";          // () -> aa{sv}
inline constexpr const char* kAdminShowUser = "ShowUser";            // (s user) -> a{sv}
inline constexpr const char* kAdminSetContact = "SetContact";        // (s user, s kind, s value)
inline constexpr const char* kAdminRemoveContact = "RemoveContact";  // (s user, s kind)
inline constexpr const char* kAdminUnlock = "Unlock";                // (s user)
inline constexpr const char* kAdminReset = "Reset";                  // (s user, s what)
inline constexpr const char* kAdminReloadPolicy = "ReloadPolicy";    // ()
inline constexpr const char* kAdminShowPolicy = "ShowPolicy";        // (s user) -> s text
// (s user) -> (s channel, s masked_destination)
inline constexpr const char* kAdminTestSend = "TestSend";
// (s user) -> as codes: a new set of recovery codes, shown once; the callers of Reset
inline constexpr const char* kAdminRecoveryCodes = "RecoveryCodes";

// ---- Errors: org.lwauth.Auth1.Error.* ----------------------------------------------------
inline constexpr const char* kErrorAccessDenied = "org.lwauth.Auth1.Error.AccessDenied";
inline constexpr const char* kErrorInvalidArgument = "org.lwauth.Auth1.Error.InvalidArgument";
inline constexpr const char* kErrorNotFound = "org.lwauth.Auth1.Error.NotFound";
inline constexpr const char* kErrorNotEnabled = "org.lwauth.Auth1.Error.NotEnabled";
inline constexpr const char* kErrorPolicyForbids = "org.lwauth.Auth1.Error.PolicyForbids";
inline constexpr const char* kErrorManagedByAdmin = "org.lwauth.Auth1.Error.ManagedByAdmin";
inline constexpr const char* kErrorReauthRequired = "org.lwauth.Auth1.Error.ReauthRequired";
inline constexpr const char* kErrorRateLimited = "org.lwauth.Auth1.Error.RateLimited";
inline constexpr const char* kErrorLockedOut = "org.lwauth.Auth1.Error.LockedOut";
inline constexpr const char* kErrorInvalidCode = "org.lwauth.Auth1.Error.InvalidCode";
inline constexpr const char* kErrorExpired = "org.lwauth.Auth1.Error.Expired";
inline constexpr const char* kErrorNoSuchLogin = "org.lwauth.Auth1.Error.NoSuchLogin";
inline constexpr const char* kErrorDeliveryFailed = "org.lwauth.Auth1.Error.DeliveryFailed";
inline constexpr const char* kErrorUnavailable = "org.lwauth.Auth1.Error.Unavailable";
inline constexpr const char* kErrorNotImplemented = "org.lwauth.Auth1.Error.NotImplemented";
inline constexpr const char* kErrorBadPolicy = "org.lwauth.Auth1.Error.BadPolicy";
inline constexpr const char* kErrorInternal = "org.lwauth.Auth1.Error.Internal";

}  // namespace lwauth::bus
