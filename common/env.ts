/**
 * Loads `.env` into process.env (real environment variables win). Imported
 * first by every entry point. Quiet: dotenv 17 otherwise prints a banner on
 * stdout, which would break the JSON log stream and the CLIs' output.
 */
import dotenv from 'dotenv';

dotenv.config({ quiet: true });
