// lwauthctl speaks for one user in that user's locale: GNU gettext, text domain "lwauth"
// (lwauth/i18n.hpp says why lwauthd and the module look their catalogs up by language
// instead). scripts/update-pot reads _() and ngettext().
#pragma once

#include <libintl.h>

#define _(text) gettext(text)
