/* Polled 8250 UART on COM1: no interrupts, so it works before anything else. */
#ifndef GUEST_UART_H
#define GUEST_UART_H

#include "types.h"

#define UART_COM1 0x3f8

void uart_init(void);
void uart_putc(char c);
void uart_puts(const char *s);
/* Returns the next received byte, or -1 when none is waiting. */
int uart_getc_nowait(void);

#endif
