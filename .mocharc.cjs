// Mocha's settings. `npx mocha dist/test/x.spec.js` runs that file alone: mocha would otherwise add
// the files named here to the ones given on the command line and run the whole suite.
const given = process.argv.slice(2).some((arg) => !arg.startsWith('-') && arg.endsWith('.js'));
module.exports = {
  spec: given ? [] : ['dist/test/**/*.spec.js'],
  timeout: 60000,
  reporter: 'spec',
};
