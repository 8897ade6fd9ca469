// plotly.js-dist-min ships no types; plot.ts describes the little it uses.
declare module 'plotly.js-dist-min';
