/**
 * zod, with its own messages in Spanish (the users' language: they reach PS, HTTP clients
 * and catalog files as `Solicitud inválida en 'isbn': …`). Every schema imports z from
 * here, so the locale is set before any of them parses.
 */
import { z } from 'zod';

z.config(z.locales.es());

export { z };
