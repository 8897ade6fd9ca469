/** The daqlab version, reported by the server and recorded in every scan. */
export const VERSION = '0.1.0';
