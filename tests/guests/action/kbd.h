#ifndef GUEST_KBD_H
#define GUEST_KBD_H

#include "../lib/types.h"

/* Prints "kbd ready", then every scancode byte, and "ctrl-alt-del". */
NORETURN void kbd_watch(void);

#endif
