// Quiet logs in tests unless asked for (WEIR_LOG_LEVEL=info npm test).
process.env.WEIR_LOG_LEVEL ??= 'error';
