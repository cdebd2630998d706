#!/usr/bin/perl
# See test/docs/run.sh and docs/testing.md.  Usage: run.pl [FILE.md ...]
use strict;
use warnings;
use File::Temp qw(tempdir);

my @files = @ARGV ? @ARGV : ('README.md', sort glob('docs/*.md'));
my $tmp = tempdir('lmm-docs.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $n = 0;
my $failed = 0;
my ($nrun, $nout, $nnorun) = (0, 0, 0);
my @norun;

sub tap {
	my ($ok, $name, @diag) = @_;
	die "tap() needs a test name (a list-context match?)\n" unless defined $name && $name ne "";
	$n++;
	$failed++ unless $ok;
	print(($ok ? "ok" : "not ok") . " $n - $name\n");
	print "# $_\n" for $ok ? () : map { split /\n/ } @diag;
}

sub norm {
	my @l = map { s/\s+$//r } split /\n/, $_[0], -1;
	shift @l while @l && $l[0] eq '';
	pop @l while @l && $l[-1] eq '';
	return join("\n", @l);
}

# Fenced blocks of a markdown file: {info, line, text} in order.
sub blocks {
	my ($file) = @_;
	open my $fh, '<', $file or die "$file: $!";
	my @b;
	my $cur;
	my $ln = 0;
	my $blank_since = 1;
	while (my $l = <$fh>) {
		$ln++;
		if ($cur) {
			if ($l =~ /^```\s*$/) { push @b, $cur; $cur = undef; $blank_since = $ln; }
			else { $cur->{text} .= $l; }
		} elsif ($l =~ /^```\s*(.*?)\s*$/) {
			# "adjacent": only blank lines since the previous block closed
			$cur = { info => $1, line => $ln, text => '', adjacent => $blank_since };
		} elsif ($l =~ /\S/) {
			$blank_since = 0;
		}
	}
	die "$file: unclosed block at line $cur->{line}\n" if $cur;
	return @b;
}

for my $file (@files) {
	my @b = blocks($file);
	(my $tag = $file) =~ s{[/.]}{_}g;
	my @run;
	for my $i (0 .. $#b) {
		my $blk = $b[$i];
		my ($lang, $rest) = $blk->{info} =~ /^(\S*)\s*(.*)$/;
		if ($lang eq '' || $lang eq 'text') {
			# a block of SQL that no test would see
			tap($blk->{text} !~ /^\s*(SELECT|CREATE|INSERT|UPDATE|DELETE|WITH|SET|ALTER|DROP)\b/i,
				"$file:$blk->{line}: an untagged block holds no SQL statement",
				"tag it ```sql, or ```sql norun: <reason>");
			next;
		}
		next unless $lang eq 'sql';
		if ($rest =~ /^norun\b(.*)/) {
			my $why = $1;
			$nnorun++;
			push @norun, "$file:$blk->{line}";
			tap(!!($why =~ /\w/), "$file:$blk->{line}: sql block marked norun gives a reason");
			next;
		}
		my $next = $b[$i + 1];
		my $expect;
		if ($next && $next->{info} eq 'text' && $next->{adjacent}) {
			$expect = $next;
		}
		push @run, { %$blk, expect => $expect, k => scalar @run };
	}
	next unless @run;

	# One session per file, in one transaction rolled back at the end.
	# ON_ERROR_ROLLBACK: an error undoes its statement only, so later
	# blocks still run; each block is its own file, so psql's error
	# messages name the block.
	my $main = "$tmp/$tag.main.sql";
	open my $m, '>', $main or die;
	print $m "\\set ON_ERROR_ROLLBACK on\n\\set QUIET on\nBEGIN;\n\\i test/docs/setup.sql\n";
	my $created = 0;
	for my $r (@run) {
		my $bf = "$tmp/$tag.$r->{k}.sql";
		open my $o, '>', $bf or die;
		print $o $r->{text};
		if ($r->{text} =~ /\bcron\.schedule\s*\(/) {
			# run the commands of the jobs this block scheduled, as pg_cron would
			print $o "\n\\o\nSELECT command FROM cron.job WHERE jobid > :docs_job0 ORDER BY jobid \\gexec\n";
		}
		close $o;
		if ($r->{text} =~ /CREATE EXTENSION lmm\b/) {
			# the block installs lmm itself, as a new user does
			print $m "DROP EXTENSION IF EXISTS lmm;\n";
		} elsif (!$created) {
			print $m "CREATE EXTENSION IF NOT EXISTS lmm;\n";
		}
		$created = 1;
		print $m "SELECT coalesce(max(jobid), 0) AS docs_job0 FROM cron.job \\gset\n";
		print $m "\\o $tmp/$tag.$r->{k}.out\n\\i $bf\n\\o\n";
	}
	print $m "ROLLBACK;\n";
	close $m;
	my $err = `psql -X -q -v ON_ERROR_STOP=0 -f $main 2>&1 >/dev/null`;
	my (%errs, @other);
	for (split /\n/, $err) {
		if (m{^psql:\Q$tmp/$tag.\E(\d+)\.sql:(\d+): (.*)}) { push @{$errs{$1}}, "line $2 of the block: $3"; }
		elsif (/ERROR|FATAL|could not/) { push @other, $_; }
	}
	tap(!@other, "$file: the examples' session sets up and ends", @other);
	for my $r (@run) {
		my $where = "$file:$r->{line}";
		my @e = grep { /ERROR|FATAL/ } @{$errs{$r->{k}} || []};
		$nrun++;
		if ($r->{expect} && $r->{expect}{text} =~ /^\s*(ERROR:.*)/) {
			# an error shown is the error expected: its first line is compared
			my $want = $1 =~ s/\s+/ /gr;
			my $have = @e ? ($e[0] =~ s/^.*?(ERROR:)/$1/r =~ s/\s+/ /gr) : '(no error)';
			$nout++;
			tap($want eq $have, "$where: raises the error shown at $file:$r->{expect}{line}",
				"shown: $want", "got:   $have");
			next;
		}
		tap(!@e, "$where: sql block runs", @e);
		if ($ENV{DOCS_SHOW} && open(my $sh, "<", "$tmp/$tag.$r->{k}.out")) { local $/; print "#SHOW $where\n", <$sh>; }
		next unless $r->{expect};
		$nout++;
		my $got = '';
		if (open my $g, '<', "$tmp/$tag.$r->{k}.out") { local $/; $got = <$g>; }
		my ($want, $have) = (norm($r->{expect}{text}), norm($got));
		tap($want eq $have, "$where: output as shown at $file:$r->{expect}{line}",
			$want eq $have ? () : ("shown:", $want, "got:", $have));
	}
}

# Every function and aggregate of the extension has an entry in the
# reference; every function entry of the reference exists.
my $q = q{BEGIN; CREATE EXTENSION IF NOT EXISTS lmm; LOAD 'lmm';
SELECT 'f ' || p.proname FROM pg_proc p
  JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'lmm'
UNION SELECT 't ' || t.typname FROM pg_type t
  JOIN pg_depend d ON d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'lmm'
UNION SELECT 's ' || name FROM pg_settings WHERE name LIKE 'lmm.%'
ORDER BY 1; ROLLBACK;};
my @objs = grep { /^[fts] / } split /\n/, `psql -X -q -At -c "$q" 2>&1`;
open my $rf, '<', 'docs/reference.md' or die "docs/reference.md: $!";
my $ref = do { local $/; <$rf> };
tap(scalar(grep { /^f / } @objs) > 10, "the extension's functions are listed (" . scalar(@objs) . " objects)");
my %have;
my %seen;
for (@objs) {
	my ($kind, $name) = split / /;
	$have{$name} = 1;
	my $kindname = { f => 'function', t => 'type', s => 'setting' }->{$kind};
	tap(!!($ref =~ /`\Q$name\E[`(]/), "docs/reference.md documents $kindname $name");
}
# lmm_print arrives from another branch; until it does, its entry may stand.
for my $h (grep { !$seen{$_}++ } $ref =~ /^#+ `(lmm\w*)\(/mg) {
	next if $h eq 'lmm_print' && !$have{$h};
	tap($have{$h}, "docs/reference.md: function $h exists in the extension");
}

# The release files agree with lmm.control.
{
	require JSON::PP;
	my ($ctl) = do { local @ARGV = ('lmm.control'); grep { /^default_version/ } <> };
	my ($ver) = ($ctl // '') =~ /'([^']+)'/;
	my $meta = eval { local @ARGV = ('META.json'); local $/; JSON::PP::decode_json(<>) };
	tap($meta && $ver && $meta->{version} eq $ver && $meta->{provides}{lmm}{version} eq $ver,
		"META.json's versions are lmm.control's default_version ($ver)", $@ || '');
	my $cl = do { local @ARGV = ('CHANGELOG.md'); local $/; <> };
	tap(!!(defined $ver && $cl =~ /^## .*\Q$ver\E/m), "CHANGELOG.md has a section for $ver");
	tap(-s 'LICENSE', 'LICENSE is there');
}

print "# docs: $nrun sql blocks run, $nout outputs compared, $nnorun sql blocks marked norun (not run)"
	. (@norun ? ": @norun" : "") . "\n";
print "1..$n\n";
exit($failed ? 1 : 0);
